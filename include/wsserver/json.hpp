// json.hpp: a JSON string (RFC 8259 section 7) from any bytes, so that
// what a client or a worker wrote can never end the string early, add a
// field or a line, or make the document invalid.
#pragma once

#include <string>
#include <string_view>

namespace ws {

// `bytes` quoted and escaped: `"` and `\`, every control byte (C0 and DEL)
// and U+2028/U+2029 (line breaks to JavaScript) as escapes; each byte that
// is not part of a well-formed UTF-8 sequence (utf8.hpp) as U+FFFD, the
// replacement character, as a decoder would show it.
std::string json_string(std::string_view bytes);

}  // namespace ws
