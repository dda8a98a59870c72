// file: docs/examples/hello-app.ts
// The smallest Morgana application: one web page and the DNS zone of its own
// name. It imports the signatures and two protocol libraries, never a stack.
import { AuthoritativeServer, parseZone, serveDns, Zone } from "@morgana/dns";
import { createHttpServer } from "@morgana/http";
import { defineApp } from "@morgana/interfaces";

export default defineApp({
  name: "hello",
  domain: "hello.morgana.test",
  pages: ["/"],

  async start({ stack, clock, address, ports, log }) {
    // HTTP on whatever TCP the target gives us.
    const http = createHttpServer({
      clock,
      handler: () => new Response(`hello from the ${stack.name} stack\n`, { headers: { "content-type": "text/plain" } }),
    });
    await http.listen(stack.tcp, { port: ports.http });

    // Our name, answered by ourselves: the target's client (and dig) resolve it here.
    const zone = new Zone(
      parseZone(`$ORIGIN hello.morgana.test.
$TTL 60
@  IN SOA  @ hostmaster 1 3600 600 86400 60
@  IN NS   @
@  IN A    ${address}
`).records,
    );
    const dns = await serveDns({ stack, clock, server: new AuthoritativeServer({ zones: [zone] }), port: ports.dns });

    log(`hello on http://${address}:${ports.http}/`);
    return {
      async close() {
        await Promise.all([http.close({ deadlineMs: 0 }), dns.close()]);
      },
    };
  },
});
