#pragma once
// Asio/Beast for router/ sources only: no header outside router/ includes this (build time).
// Coroutines (asio::awaitable) carry each connection; every io thread runs its own io_context, so
// a connection and its upstream legs share one thread and need no strand or lock.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace pdgate::router {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Every coroutine, socket and timer of router/ runs on an io_context. Naming its executor type
// (instead of Asio's default, the type-erased any_io_executor) saves copying, comparing and
// destroying an erased executor on every operation: measured 5 % of pdgate's CPU per request.
using Executor = net::io_context::executor_type;
template <class T = void>
using Task = net::awaitable<T, Executor>;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
using SteadyTimer =
    net::basic_waitable_timer<std::chrono::steady_clock,
                              net::wait_traits<std::chrono::steady_clock>, Executor>;
inline constexpr net::use_awaitable_t<Executor> kAwait;
// Completion token that returns errors as values: `auto [ec, n] = co_await op(kTuple);`.
inline constexpr auto kTuple = net::as_tuple(kAwait);

// A TCP stream with a deadline per operation (router/http/deadline_stream.h).
class DeadlineStream;
using Stream = DeadlineStream;

}  // namespace pdgate::router

#include "router/http/deadline_stream.h"  // IWYU pragma: export
