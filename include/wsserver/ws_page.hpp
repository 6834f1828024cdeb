// ws_page.hpp: the chat page a ws: listener answers a plain GET of `/` with
// (SPEC section 10): etc/chat.html, built into the binary so that a build
// never installed serves it too, or the file the ws_page key names.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ws {

// A page is sent whole from memory; a larger file is a config error.
constexpr size_t max_ws_page = 1 << 20;

// etc/chat.html as it was when the binary was built.
std::string_view builtin_ws_page();

// Reads the file ws_page names. The master reads it at start and on reload,
// before workers drop privileges, never per request: so it refuses what
// root should not open for anyone: a symbolic link (the page is the file
// named), a FIFO or device (which could hang a start), and a file over
// max_ws_page bytes. *error says which.
bool load_ws_page(const std::string& path, std::string* page, std::string* error);

// The page to serve: ws_page's file when set, else the built-in one.
bool ws_page_for(const std::string& path, std::string* page, std::string* error);

}  // namespace ws
