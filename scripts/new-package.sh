#!/usr/bin/env bash
# Scaffold packages/NAME as @morgana/NAME: package.json, tsconfig, tsup and vitest configs.
set -euo pipefail
name=$1; desc=${2:-}
dir=packages/$name
mkdir -p "$dir/src" "$dir/test"
[ -f "$dir/package.json" ] || cat > "$dir/package.json" <<JSON
{
  "name": "@morgana/$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "main": "./dist/index.cjs",
  "module": "./dist/index.js",
  "types": "./dist/index.d.ts",
  "exports": {
    ".": {
      "@morgana/source": "./src/index.ts",
      "import": { "types": "./dist/index.d.ts", "default": "./dist/index.js" },
      "require": { "types": "./dist/index.d.cts", "default": "./dist/index.cjs" }
    }
  },
  "files": ["dist", "README.md"],
  "sideEffects": false,
  "scripts": {
    "build": "tsup",
    "test": "vitest run",
    "typecheck": "tsc -p tsconfig.json"
  },
  "dependencies": {}
}
JSON
[ -f "$dir/tsconfig.json" ] || echo '{ "extends": "../../tsconfig.base.json", "compilerOptions": { "noEmit": true }, "include": ["src", "test", "bench"] }' > "$dir/tsconfig.json"
[ -f "$dir/tsup.config.ts" ] || printf 'import { morganaBuild } from "../../tsup.shared.ts";\n\nexport default morganaBuild();\n' > "$dir/tsup.config.ts"
[ -f "$dir/vitest.config.ts" ] || printf 'import { morganaProject } from "../../vitest.shared.ts";\n\nexport default morganaProject("%s");\n' "$name" > "$dir/vitest.config.ts"
echo "scaffolded $dir"
