#pragma once
// Reading a config's TOML text (the first of the two steps in io/config.hpp): syntax errors with
// line and column, `--set section.key=value` overrides applied to the tree, unknown keys reported
// with a did-you-mean before anything else, and every key that was set taken as a typed value,
// with where it came from, for resolve() to check against the schema.
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "io/config.hpp"

namespace xbar::io {

struct ConfigDocument {
  toml::table root;     ///< the text's tree, overrides applied ([sweep] included)
  ConfigValues values;  ///< every schema key that was set
};

/// Parses `text` (named `path` in messages) and applies `overrides` ("key=value", the value in
/// TOML syntax, a bare word a string); errors in an override name `override_origin`. Throws
/// InputError.
ConfigDocument read_config_document(const std::string& text, const std::string& path,
                                    const std::vector<std::string>& overrides, const std::string& override_origin);

/// `node` as a value of `key` set in `origin`; relative file names are taken from `folder`.
/// Throws InputError for an array, a table or a date.
SetValue set_value(const std::string& key, const toml::node& node, const std::string& origin,
                   const std::string& folder);

/// The folder relative file names in the config file `path` are taken from ("" when `path`
/// names no file: the working folder).
std::string file_folder(const std::string& path);

}  // namespace xbar::io
