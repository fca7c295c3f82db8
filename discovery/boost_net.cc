// Asio and Beast compiled once for every pdgate binary (BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION are set for the whole build in the top-level CMakeLists.txt):
// without this, each of the ~40 translation units that include them compiles their
// non-template code again. In discovery/, the lowest layer that does I/O.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
