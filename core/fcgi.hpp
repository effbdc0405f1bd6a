// The FastCGI accept loop every handler executable runs: listening socket on fd 0, a pool of threads
// each with its own database and Redis connection, one place that turns exceptions into HTTP.
#pragma once

#include <vector>

#include "core/context.hpp"
#include "core/router.hpp"

namespace chat::fcgi {

// Reads the config once, then serves `routes` until SIGTERM/SIGINT: stops accepting, lets requests
// in flight finish and returns 0. Returns 2 on a configuration error, 1 when fd 0 is not a socket.
int serve(const char* program, std::vector<http::Route> routes);

// The rest of a handler program's command line: chat-admin's operator commands (argv[1] is the command).
using Command = int (*)(int argc, char** argv);

// The whole main of a handler program (generated from handlers/main.cpp.in). Without arguments it serves `routes`.
// `--routes` and `--schema` print the route table and the input limits (core/limits.hpp) as JSON and read no
// configuration: docs/gen_openapi.py and the tests take them from a build, so the document cannot drift from the
// code. Other arguments go to `command`, or are a usage error (2) when the program has none.
int run_program(const char* program, int argc, char** argv, std::vector<http::Route> routes, Command command = nullptr);

// Runs the matched handler and maps every failure to the JSON of docs/api.md#errors (exposed for tests).
http::Response dispatch(Context& ctx, const http::Router& router, http::Request& req);

}  // namespace chat::fcgi
