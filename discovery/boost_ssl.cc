// Asio's TLS code compiled once (see boost_net.cc), apart so that only the binaries that speak
// TLS (the Kubernetes client) link OpenSSL.
#include <boost/asio/ssl/impl/src.hpp>
