#pragma once
// How the processes of one run talk: one process (a plain `xbar` run), or the ranks of an MPI
// job when a launcher (mpirun, srun) started xbar. Rank 0 is the root: it hands out the jobs,
// collects their results and writes the files.
//
// MPI lives in a plugin, libxbar_mpi.so next to the xbar binary, loaded (dlopen) only when the
// environment says a launcher started this process: Open MPI and its dozen libraries are not
// mapped by every `xbar --help`, and MPI_Init (about a second) runs only in `sweep` and `table`
// under a launcher.
#include <memory>
#include <optional>
#include <string>

namespace xbar::parallel {

struct Message {
  int source = 0;
  int tag = 0;
  std::string bytes;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Takes one message that has arrived from any rank, if there is one (never waits).
  virtual bool poll(Message& message) = 0;
  virtual void send(int destination, int tag, const std::string& bytes) = 0;
  /// Rank 0's bytes, on every rank.
  virtual void broadcast(std::string& bytes) = 0;
};

/// What the launcher's environment says about this process (Open MPI: OMPI_COMM_WORLD_SIZE and
/// _RANK; PMI (MPICH, Slurm --mpi=pmi2): PMI_SIZE, PMI_RANK; PMIx (Slurm --mpi=pmix): PMIX_RANK,
/// SLURM_NTASKS). Empty when no launcher started it.
struct Launch {
  std::string variable;  ///< the variable that gave it away, for messages
  int size = 0;          ///< 0: the environment does not say
  int rank = 0;
};
std::optional<Launch> launched_by_mpi();

/// Whether this xbar was built with the MPI plugin (CMake option XBAR_MPI and MPI found).
bool built_with_mpi();

/// The transport of this run: MPI when a launcher started xbar, one process otherwise. A build
/// without MPI under a launcher says so on stderr; its rank 0 then runs the whole job alone and
/// the other ranks return nullptr (they have nothing to do). Throws io::InputError if the plugin
/// cannot be loaded.
std::unique_ptr<Transport> connect();

/// A transport of one process.
std::unique_ptr<Transport> single_process();

}  // namespace xbar::parallel
