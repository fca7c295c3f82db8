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
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace pdgate::router {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Completion token that returns errors as values: `auto [ec, n] = co_await op(kTuple);`.
inline constexpr auto kTuple = net::as_tuple(net::use_awaitable);

}  // namespace pdgate::router
