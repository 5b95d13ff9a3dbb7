import { defineConfig, type ProxyOptions } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies /graphql (HTTP and WebSocket) to a running goalgraph server,
// http://127.0.0.1:8000 unless GOALGRAPH_URL says otherwise.
const server = process.env.GOALGRAPH_URL ?? "http://127.0.0.1:8000";

// The server accepts a WebSocket only from its own origin, so the proxy presents the server's.
const proxy: Record<string, ProxyOptions> = {
  "/graphql": {
    target: server,
    ws: true,
    changeOrigin: true,
    configure: (p) => p.on("proxyReqWs", (req) => req.setHeader("origin", new URL(server).origin)),
  },
};

export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
  },
  server: { proxy },
  preview: { proxy },
});
