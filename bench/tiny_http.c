/* The benchmark's tiny service: an HTTP server that listens before it does anything else and
 * answers every request with "200 ok", so that a manager's own cost is not hidden behind a
 * slow boot (python -m http.server takes ~260 ms to listen).
 *
 *     tiny_http PORT          (binds 127.0.0.1:PORT; the default SIGTERM ends it)
 *
 * Built by bench/scale.py with the system C compiler. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] =
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int server = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)atoi(argv[1]));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(server, (struct sockaddr *)&address, sizeof address) < 0) return 1;
    if (listen(server, 64) < 0) return 1;
    char buffer[4096];
    for (;;) {
        int client = accept(server, NULL, NULL);
        if (client < 0) continue;
        (void)read(client, buffer, sizeof buffer); /* one read: the request line is enough */
        (void)write(client, reply, sizeof reply - 1);
        close(client);
    }
}
