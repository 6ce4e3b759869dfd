// A stand-in for a Vite dev server, with no dependencies: `--port N`, else server.port from
// ./vite.config.js, else PORT. Prints a Vite-like banner once it listens.
const fs = require("fs");
const http = require("http");

function configPort() {
  try {
    const text = fs.readFileSync("vite.config.js", "utf8");
    const match = /server\s*:\s*\{[^}]*?port\s*:\s*(\d+)/s.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const flag = process.argv.indexOf("--port");
const port = flag > 0 ? Number(process.argv[flag + 1]) : configPort() || Number(process.env.PORT);
const server = http.createServer((request, response) => {
  response.writeHead(200, { "content-type": "text/html" });
  response.end("<!doctype html><title>dev</title><p>hello from " + process.cwd() + "</p>\n");
});
server.listen(port, "127.0.0.1", () => {
  console.log(`  VITE-like dev server ready\n  ➜  Local:   http://127.0.0.1:${port}/`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
