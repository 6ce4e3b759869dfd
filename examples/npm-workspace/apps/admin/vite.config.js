// Read by tools/devserver.js as Vite reads it: the dev server's port.
export default {
  server: {
    port: 8731,
    strictPort: true,
  },
}
