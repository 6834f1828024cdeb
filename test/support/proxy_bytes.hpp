// proxy_bytes.hpp (tests): PROXY protocol v2 headers built byte by byte from
// the layout in HAProxy's proxy-protocol.txt, for the parser's unit tests
// and the proxy: listener's integration tests alike.
#pragma once

#include <initializer_list>
#include <string>

namespace test {

inline std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s += static_cast<char>(b);
  return s;
}

inline const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

// The 16-byte fixed part, then `body` (address block and TLVs).
inline std::string v2(int ver_cmd, int family, const std::string& body) {
  int length = static_cast<int>(body.size());
  return v2_signature + bytes({ver_cmd, family, length >> 8, length & 0xff}) + body;
}

}  // namespace test
