#pragma once
// The journal of a run: each finished job's result, appended as the job completes, to
// OUTPUT.journal next to the output (never the output itself), so that a run stopped by a crash,
// a scheduler's SIGTERM or a node failure can resume: `--resume` reads the finished jobs back and
// only the others are computed. The file written at the end is the same as an uninterrupted
// run's, because every job is deterministic and its result is kept bit for bit.
//
// Layout: a text header, then one binary record per job, each written by a single write():
//   xbar journal 1\n
//   <identity>\n                 what the run is: command, xbar version, a hash of the effective
//                                config, the number of jobs; --resume refuses any other
//   record: u64 index, u64 length, length bytes of result, u64 FNV-1a checksum of the above
// A record cut short by a kill (or with a wrong checksum) ends the journal: it and anything after
// it are dropped and recomputed. The file is flushed to disk at most once a second (a killed
// process loses nothing; a lost node at most the last second) and held under an exclusive lock
// (flock) while the run goes on, so two runs cannot write one journal.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "parallel/bytes.hpp"

namespace xbar::parallel {

/// FNV-1a, 64 bits: the config hash of a journal's identity and its record checksums.
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 0xcbf29ce484222325ULL);

class Journal {
 public:
  /// The journal of `output` (path output + ".journal"). identity: what the run is (see above).
  /// resume: continue a journal of the same identity (none: start afresh); a journal of another
  /// identity, or not a journal, is refused (io::InputError, naming both). Without resume an old
  /// journal is replaced (with a note on stderr).
  Journal(const std::string& output, const std::string& identity, std::size_t jobs, bool resume);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const { return path_; }
  /// Results read back on --resume, by job index.
  const std::map<std::size_t, Bytes>& finished() const { return finished_; }
  /// Appends one finished job. Throws io::InputError if the write fails (disk full).
  void record(std::size_t index, const Bytes& result);
  /// Deletes the journal: call once the output is committed.
  void remove();

 private:
  void read_back(const std::string& identity, std::size_t jobs);
  void start(const std::string& identity);

  std::string path_;
  int fd_ = -1;
  std::map<std::size_t, Bytes> finished_;
  std::size_t recorded_ = 0;  ///< jobs appended by this run
  std::int64_t last_sync_ns_ = 0;
};

}  // namespace xbar::parallel
