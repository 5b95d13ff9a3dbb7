#!/usr/bin/env bash
# Refresh the GraphiQL assets served from the package at /graphql/ide/ (no CDN at run time).
# Versions follow strawberry's own GraphiQL page; run from the repository root.
set -euo pipefail
dest=src/goalgraph/graphql/ide/assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent graphiql@3.8.3 react@18.2.0 react-dom@18.2.0 js-cookie@3.0.5 \
  @graphiql/plugin-explorer@1.0.2 >/dev/null && for f in *.tgz; do mkdir "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done)
strip_map() { sed '/^\/\/# sourceMappingURL=/d; s#/\*\# sourceMappingURL=[^*]*\*/##' "$1" > "$2"; }
strip_map "$work"/react-18.2.0/package/umd/react.production.min.js "$dest/react.production.min.js"
strip_map "$work"/react-dom-18.2.0/package/umd/react-dom.production.min.js "$dest/react-dom.production.min.js"
strip_map "$work"/js-cookie-3.0.5/package/dist/js.cookie.min.js "$dest/js.cookie.min.js"
strip_map "$work"/graphiql-3.8.3/package/graphiql.min.js "$dest/graphiql.min.js"
strip_map "$work"/graphiql-3.8.3/package/graphiql.min.css "$dest/graphiql.min.css"
strip_map "$work"/graphiql-plugin-explorer-1.0.2/package/dist/index.umd.js "$dest/plugin-explorer.umd.js"
strip_map "$work"/graphiql-plugin-explorer-1.0.2/package/dist/style.css "$dest/plugin-explorer.css"
{
  echo "GraphiQL assets vendored by scripts/vendor-graphiql.sh from the npm registry; their licences follow."
  for p in graphiql-3.8.3 react-18.2.0 react-dom-18.2.0 js-cookie-3.0.5 graphiql-plugin-explorer-1.0.2; do
    echo; echo "=== $p ==="; cat "$work/$p/package/LICENSE"* 2>/dev/null || echo "(MIT; see the package on npm)"
  done
} > "$dest/LICENSES.txt"
ls -l "$dest"
