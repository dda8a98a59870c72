/**
 * The homepage: Morgana's version of MirageOS's founding example.
 *
 * In MirageOS a unikernel is a functor: the application takes its devices and
 * protocol stacks as arguments (`module Main (S: Tcpip.Stack.V4V6) = ...`),
 * and `config.ml` decides at build time whether they are the host's Unix
 * sockets or Mirage's own TCP/IP on a network device. This file is the
 * functor's body. It imports only signatures (`@morgana/interfaces`) and
 * libraries written against them (`@morgana/http`, `@morgana/dns`), never a
 * stack: a *target* (`@morgana/targets/socket`, `/direct`, `/tap`, chosen with
 * `morgana run examples/homepage --target T`) builds one and calls `start`.
 *
 * It serves a small website over HTTP and the authoritative DNS zone of its
 * own name, both on the same stack. Every page is the same on every target
 * except `/stack.json`, which shows which stack answered and its counters.
 */
import { defineApp, type AppContext } from "@morgana/interfaces";
import { createHttpServer } from "@morgana/http";
import { AuthoritativeServer, Zone, parseZone, serveDns, type DnsServerHandle } from "@morgana/dns";

const DOMAIN = "homepage.morgana.test";
const HTML = "text/html; charset=utf-8";

export default defineApp({
  name: "homepage",
  domain: DOMAIN,
  pages: ["/", "/about.html", "/stack.json"],

  async start(ctx: AppContext) {
    const { stack, clock } = ctx;
    let dns: DnsServerHandle | undefined;

    // The website: @morgana/http's server over whatever `stack.tcp` is (Cohttp over a FLOW in Mirage).
    const http = createHttpServer({
      clock,
      serverName: "morgana",
      handler: (request) => {
        if (request.method !== "GET" && request.method !== "HEAD") {
          return new Response("405 Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" } });
        }
        switch (new URL(request.url).pathname) {
          case "/":
          case "/index.html":
            return page(200, INDEX);
          case "/about.html":
            return page(200, ABOUT);
          case "/stack.json":
            return Response.json(stackReport(ctx, { http: http.stats().counters, dns: dns?.stats().counters }));
          default:
            return page(404, NOT_FOUND);
        }
      },
    });
    await http.listen(stack.tcp, { port: ctx.ports.http });

    // Its DNS zone, built from the address the target gives us, served over UDP and TCP on the same stack.
    try {
      const zone = new Zone(parseZone(zoneText(ctx.address)).records);
      dns = await serveDns({ stack, clock, server: new AuthoritativeServer({ zones: [zone] }), port: ctx.ports.dns });
    } catch (err) {
      await http.close({ deadlineMs: 0 });
      throw err;
    }

    ctx.log(`http://${ctx.address}:${ctx.ports.http}/ and DNS for ${DOMAIN} on ${ctx.address}:${ctx.ports.dns} (stack: ${stack.name})`);
    let closing: Promise<void> | undefined;
    const dnsServer = dns;
    return {
      // Stops both services (in-flight HTTP requests get up to 2 s to finish). Idempotent.
      close: () => (closing ??= Promise.all([http.close({ deadlineMs: 2000 }), dnsServer.close()]).then(() => undefined)),
    };
  },
});

/** The zone of our own name: we are its only name server, and its address is ours. */
function zoneText(address: string): string {
  return `$ORIGIN ${DOMAIN}.
$TTL 300
@    IN SOA   @ hostmaster 1 3600 600 86400 300
@    IN NS    @
@    IN A     ${address}
@    IN TXT   "v=morgana homepage"
www  IN CNAME @
`;
}

/** What `/stack.json` says: the one page that differs from target to target. */
function stackReport(ctx: AppContext, services: Record<string, unknown>): Record<string, unknown> {
  const { stack } = ctx;
  return {
    app: "homepage",
    domain: DOMAIN,
    target: ctx.target,
    stack: stack.name,
    address: ctx.address,
    addresses: stack.addresses(),
    ports: ctx.ports,
    // Every layer's live counters and drops: tcp and udp on the host's sockets;
    // netif, ethernet, arp, ipv4, icmp, udp, tcp on Morgana's own stack.
    layers: stack.stats(),
    services,
  };
}

function page(status: number, html: string): Response {
  return new Response(html, { status, headers: { "content-type": HTML } });
}

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; }</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const INDEX = layout(
  "Morgana homepage",
  `<h1>Morgana homepage</h1>
<p>This page is served by an application written only against Morgana's signatures.
The same code runs on the host's sockets and on Morgana's own TCP/IP stack, written in TypeScript.</p>
<ul>
<li><a href="/about.html">About Morgana and MirageOS</a></li>
<li><a href="/stack.json">Which stack answered this request, and its counters</a></li>
<li><a href="/missing.html">A page that does not exist</a></li>
</ul>`,
);

const ABOUT = layout(
  "About Morgana",
  `<h1>About</h1>
<p><a href="https://mirage.io">MirageOS</a> builds unikernels from OCaml libraries: the network stack,
the storage and the protocols are ordinary libraries implementing module signatures, and the
application is a functor over those signatures. Its first example was a homepage developed on
the host's Unix sockets and then linked, unchanged, against Mirage's own TCP/IP stack running on
a virtual network device. Morgana brings that idea to TypeScript: this site depends on a
<code>Stack</code> signature, and a target chosen at run time links it to the host's sockets,
to Morgana's pure-TypeScript TCP/IP over an in-memory switch, or to the same stack on a Linux
TAP device, where Linux's own curl, dig and ping talk to it.</p>
<p><a href="/">Home</a></p>`,
);

const NOT_FOUND = layout(
  "Not found",
  `<h1>404 Not Found</h1>
<p>There is no such page here. <a href="/">Home</a></p>`,
);
