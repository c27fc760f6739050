#pragma once
// An output file (HDF5, TOML, SPICE deck) written under a temporary name in the destination
// folder and renamed onto its path on commit: a failed or interrupted run never leaves a partial
// file and never touches an existing one.
#include <string>
#include <vector>

namespace xbar::io {

/// A file to be written under a temporary name and renamed onto `path` by commit().
/// Until then, destruction (or an interrupt, see interrupt.hpp) removes the temporary.
/// The constructor creates the (empty) temporary, so an unwritable output is an InputError
/// before any work is done; `inputs` are files the run reads, which the output must not replace.
/// It first removes this output's temporaries left by killed runs (".NAME.tmp-PID-N" of a
/// process id that no longer exists on this machine).
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path, const std::vector<std::string>& inputs = {});
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& path() const { return path_; }
  void commit();

 private:
  void create_temporary(const std::string& dir, const std::string& name);

  std::string path_, temp_;
  bool committed_ = false;
};

}  // namespace xbar::io
