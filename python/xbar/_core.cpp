// xbar._core: the engine behind the Python package (python/xbar/__init__.py is the public face).
// It only converts: configs and NumPy arrays in, NumPy arrays and plain values out; every number
// is computed by the same C++ code as the command line's, and errors carry the command line's
// one-line messages (io::one_line), mapped to one Python exception class each.
//
// NumPy: arguments are taken as C-contiguous float64 (converted once if they are not); results
// are arrays that own the C++ buffer they were computed in (no copy), read-only views for the
// arrays a Crossbar keeps. Every solve runs without the GIL; Ctrl-C is polled between input
// vectors (solve) or while waiting (table, sweep, check) and raises KeyboardInterrupt, with no
// output file left behind (io::AtomicOutput removes its temporary on the way out).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "cli/default_study.hpp"
#include "engine/array_solver.hpp"
#include "engine/mapping.hpp"
#include "validation/check_results.hpp"
#include "io/config.hpp"
#include "io/config_toml.hpp"
#include "io/errors.hpp"
#include "io/hdf5_file.hpp"
#include "io/problem.hpp"
#include "studies/sweep_file.hpp"
#include "studies/sweep_runner.hpp"
#include "tables/table_builder.hpp"
#include "tables/table_file.hpp"
#include "validation/cross_check.hpp"
#include "validation/ngspice_session.hpp"

namespace py = pybind11;
using namespace xbar;
using xbar::Matrix;

namespace {

using Shape = std::vector<py::ssize_t>;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------------------
// NumPy in and out

/// A NumPy array of `shape` that owns `data` (moved, not copied).
py::array owning_array(std::vector<double>&& data, Shape shape) {
  auto* owner = new std::vector<double>(std::move(data));
  py::capsule release(owner, [](void* p) { delete static_cast<std::vector<double>*>(p); });
  return py::array_t<double>(std::move(shape), owner->data(), release);
}

py::array owning_array(Matrix&& m) {
  const Shape shape{static_cast<py::ssize_t>(m.rows), static_cast<py::ssize_t>(m.cols)};
  return owning_array(std::move(m.data), shape);
}

/// A read-only view of `data`, kept alive by `owner` (the object that holds the buffer).
py::array read_only_view(const std::vector<double>& data, Shape shape, py::handle owner) {
  py::array_t<double> view(std::move(shape), data.data(), owner);
  view.attr("setflags")(py::arg("write") = false);
  return view;
}

std::string shape_text(const py::array& a) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) text += fmt::format("{}{}", d ? ", " : "", a.shape(d));
  return text + (a.ndim() == 1 ? ",)" : ")");
}

/// A 2-D argument (1-D too when `vector_ok`: one row) as a Matrix of float64. Integer, boolean and
/// float arrays of any layout are converted; anything else is an InputError naming the argument,
/// its dtype or shape and what was expected.
Matrix matrix_argument(py::handle object, const char* name, const char* expected, bool vector_ok = false) {
  const py::array any = py::array::ensure(object);
  if (!any) throw io::InputError(fmt::format("argument '{}': expected a NumPy array {}, got {}", name, expected,
                                             std::string(py::str(py::type::of(object).attr("__name__")))));
  const char kind = any.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw io::InputError(fmt::format("argument '{}' has dtype {}: expected real numbers (float64; integer, "
                                     "boolean and other float arrays are converted)",
                                     name, std::string(py::str(any.dtype()))));
  if (any.ndim() != 2 && !(vector_ok && any.ndim() == 1))
    throw io::InputError(fmt::format("argument '{}' has shape {}: expected a {}-D array {}", name, shape_text(any),
                                     vector_ok ? "1-D or 2" : "2", expected));
  using Contiguous = py::array_t<double, py::array::c_style | py::array::forcecast>;
  const Contiguous values = Contiguous::ensure(any);
  const std::size_t rows = any.ndim() == 2 ? any.shape(0) : 1, cols = any.shape(any.ndim() - 1);
  if (rows == 0 || cols == 0)
    throw io::InputError(fmt::format("argument '{}' has shape {}: expected {} with at least one row and column",
                                     name, shape_text(any), expected));
  return Matrix(rows, cols, std::vector<double>(values.data(), values.data() + rows * cols));
}

// ------------------------------------------------------------------------------------------------
// Ctrl-C

/// Thrown out of an engine callback to abandon the work after Python saw a signal.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

/// Polls Python's signal handlers (at most every 50 ms) from the thread that called in; without
/// the GIL on entry. A KeyboardInterrupt is left pending and Interrupted thrown, there and from
/// then on in the engine's other threads too.
class SignalPoll {
 public:
  void operator()() {
    if (stop_) throw Interrupted();
    if (std::this_thread::get_id() != caller_) return;
    const Clock::time_point now = Clock::now();
    if (now < next_) return;
    next_ = now + std::chrono::milliseconds(50);
    const py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      stop_ = true;
      throw Interrupted();
    }
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread::id caller_ = std::this_thread::get_id();
  Clock::time_point next_ = Clock::now() + std::chrono::milliseconds(50);
};

/// Runs work(cancel) on a thread of its own while the caller (GIL released) waits and polls
/// Python's signal handlers; on Ctrl-C `cancel` is set, the work's progress callback throws, and
/// KeyboardInterrupt is raised here once the work has unwound (its outputs removed).
template <class Work>
auto run_interruptible(Work work) {
  using Result = decltype(work(std::declval<const std::atomic<bool>&>()));
  std::optional<Result> result;
  std::exception_ptr failure;
  std::atomic<bool> cancel{false};
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false, interrupted = false;
  {
    const py::gil_scoped_release release;
    std::thread worker([&] {
      try {
        result.emplace(work(cancel));
      } catch (...) {
        failure = std::current_exception();
      }
      const std::lock_guard lock(mutex);
      done = true;
      finished.notify_one();
    });
    std::unique_lock lock(mutex);
    while (!finished.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) {
      if (interrupted) continue;
      lock.unlock();
      {
        const py::gil_scoped_acquire gil;
        interrupted = PyErr_CheckSignals() != 0;
      }
      if (interrupted) cancel = true;
      lock.lock();
    }
    lock.unlock();
    worker.join();
  }
  if (interrupted) throw py::error_already_set();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

/// Progress callback for run_interruptible's work: stops it once cancel is set.
auto cancel_check(const std::atomic<bool>& cancel) {
  return [&cancel](std::size_t, std::size_t) {
    if (cancel) throw Interrupted();
  };
}

// ------------------------------------------------------------------------------------------------
// Configs

/// Appends a Python value (bool, int, float, str, list/tuple, dict) to a TOML array; `key`
/// names it in messages.
void append_toml(toml::array& out, py::handle value, const std::string& key);

/// Moves a converted value (the only element of `one`) into a table.
void insert_toml(toml::table& table, const std::string& key, toml::array& one) {
  one[0].visit([&](auto& node) { table.insert_or_assign(key, std::move(node)); });
}

toml::table toml_table(const py::dict& d, const std::string& prefix) {
  toml::table table;
  for (const auto& [k, v] : d) {
    const std::string key = py::str(k);
    toml::array one;
    append_toml(one, v, prefix.empty() ? key : prefix + "." + key);
    insert_toml(table, key, one);
  }
  return table;
}

void append_toml(toml::array& out, py::handle value, const std::string& key) {
  if (py::isinstance<py::bool_>(value)) {
    out.push_back(value.cast<bool>());
  } else if (py::hasattr(value, "__index__")) {
    out.push_back(static_cast<std::int64_t>(value.cast<long long>()));
  } else if (py::isinstance<py::float_>(value) ||
             (py::hasattr(value, "dtype") && py::str(value.attr("dtype").attr("kind")).cast<std::string>() == "f")) {
    out.push_back(value.cast<double>());
  } else if (py::isinstance<py::str>(value)) {
    out.push_back(value.cast<std::string>());
  } else if (py::isinstance<py::dict>(value)) {
    out.push_back(toml_table(value.cast<py::dict>(), key));
  } else if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    toml::array array;
    for (py::handle item : value) append_toml(array, item, key);
    out.push_back(std::move(array));
  } else {
    throw io::InputError(fmt::format("<dict>: key '{}': a value of type {} has no TOML form (expected bool, int, "
                                     "float, str, list or dict)", key,
                                     std::string(py::str(py::type::of(value).attr("__name__")))));
  }
}

/// A dict as TOML text: nested dicts are sections; a top-level key with dots ("array.rows") is
/// the same as the nested form, and both forms may be mixed.
std::string toml_text(const py::dict& d) {
  py::dict nested;
  const auto section = [&](const py::str& name) {
    if (!nested.contains(name)) nested[name] = py::dict();
    if (!py::isinstance<py::dict>(nested[name]))
      throw io::InputError(fmt::format("<dict>: key '{}' is both a value and a section", std::string(name)));
    return nested[name].cast<py::dict>();
  };
  for (const auto& [k, v] : d) {
    const std::string key = py::str(k);
    const std::size_t dot = key.find('.');
    if (dot != std::string::npos)
      section(py::str(key.substr(0, dot)))[py::str(key.substr(dot + 1))] = v;
    else if (py::isinstance<py::dict>(v))
      section(py::str(key)).attr("update")(v);
    else
      nested[py::str(key)] = v;
  }
  std::ostringstream text;
  text << toml_table(nested, "");
  return text.str();
}

/// "key=value" as --set takes it, the value written as TOML.
std::string override_text(const std::string& key, py::handle value) {
  if (py::isinstance<py::float_>(value))  // Python's shortest round-trip form is TOML too
    return key + "=" + std::string(py::repr(value));
  toml::table table;
  toml::array one;
  append_toml(one, value, key);
  insert_toml(table, "v", one);
  std::ostringstream text;
  text << table;
  const std::string line = text.str();  // "v = <value>"
  return key + "=" + line.substr(line.find('=') + 2);
}

/// A config as the command line takes it: TOML text, the name it is reported by (file path), and
/// --set overrides; parsed and validated on construction.
struct ConfigSource {
  std::string text, name;
  std::vector<std::string> overrides;
  io::RunConfig run;

  ConfigSource(std::string text_, std::string name_, std::vector<std::string> overrides_)
      : text(std::move(text_)), name(std::move(name_)), overrides(std::move(overrides_)),
        run(io::parse_config(text, name, overrides)) {}

  /// The run config with array.rows / array.cols taken from a weight matrix unless set: the
  /// parsed keys with those two added, resolved again (a select table is the one already loaded).
  io::RunConfig fitted_to(const Matrix& weights) const {
    io::ConfigValues fitted = run.values;
    const auto fit = [&](const std::string& key, std::size_t size) {
      if (!fitted.contains(key))
        fitted[key] = io::set_value(key, toml::value<std::int64_t>(static_cast<std::int64_t>(size)),
                                    "argument 'weights'", "");
    };
    fit("array.rows", weights.rows);
    fit("array.cols", weights.cols);
    if (fitted.size() == run.values.size()) return run;
    return io::resolve(fitted, name, [table = run.cell.select_table](const std::string&) { return table; });
  }
};

// ------------------------------------------------------------------------------------------------
// Crossbar

class CrossbarCore {
 public:
  CrossbarCore(io::RunConfig config, io::Problem problem)
      : config_(std::move(config)),
        problem_(std::move(problem)),
        crossbar_(std::move(problem_.spec)),
        solver_(crossbar_, config_.newton) {}

  static std::unique_ptr<CrossbarCore> make(const ConfigSource& source, py::handle weights) {
    if (weights.is_none()) {
      const py::gil_scoped_release release;
      return std::make_unique<CrossbarCore>(source.run, io::build_problem(source.run));
    }
    Matrix w = matrix_argument(weights, "weights", "[rows, cols]");
    const py::gil_scoped_release release;
    io::RunConfig config = source.fitted_to(w);
    io::Problem problem = io::build_problem(config, std::move(w), "argument 'weights'");
    return std::make_unique<CrossbarCore>(std::move(config), std::move(problem));
  }

  py::dict solve(py::handle inputs_object, bool cells, bool nodes) {
    const Matrix inputs = matrix_argument(inputs_object, "inputs", "[count, rows]", true);
    io::check_inputs(config_, inputs, "argument 'inputs'");
    const std::size_t count = inputs.rows, per_vector = crossbar_.spec().rows * crossbar_.spec().cols;
    // Every vector's per-cell results, which the observer writes straight into NumPy's memory
    // (not zeroed first: each value is written once).
    const Shape cube{static_cast<py::ssize_t>(count), crossbar_.spec().rows, crossbar_.spec().cols};
    const auto cube_if = [&](bool wanted) { return wanted ? py::object(py::array_t<double>(cube)) : py::none(); };
    PerCell per_cell{cube_if(cells), cube_if(cells), cube_if(nodes), cube_if(nodes)};
    const auto values = [&](py::object& a) {
      return a.is_none() ? nullptr : static_cast<double*>(a.cast<py::array_t<double>>().mutable_data());
    };
    double *const cell = values(per_cell.cell), *const cell_ideal = values(per_cell.cell_ideal);
    double *const v_row = values(per_cell.v_row), *const v_col = values(per_cell.v_col);
    engine::VectorObserver observe;
    if (cells || nodes)
      observe = [&](std::size_t v, std::span<const double> voltages) {
        const auto of = [&](double* a) { return std::span(a + v * per_vector, per_vector); };
        if (cells) {
          crossbar_.cell_currents(voltages, of(cell));
          crossbar_.ideal_cell_currents(inputs.row(v), of(cell_ideal));
        }
        if (nodes) {
          crossbar_.line_voltages(netlists::NodeKind::row, voltages, of(v_row));
          crossbar_.line_voltages(netlists::NodeKind::column, voltages, of(v_col));
        }
      };
    engine::ArrayResults r;
    try {
      const py::gil_scoped_release release;
      const std::lock_guard lock(mutex_);  // one solve at a time on this array's solver
      SignalPoll poll;
      // Per-cell results come from the observer, every vector's: none of vector 0's alone.
      r = solver_.solve(inputs, [&](std::size_t, std::size_t) { poll(); }, observe, engine::CellResults::none);
    } catch (const Interrupted&) {
      throw py::error_already_set();
    }
    return result(std::move(r), per_cell);
  }

  py::object levels(py::handle self) const {
    return problem_.levels ? py::object(view(*problem_.levels, self)) : py::none();
  }
  py::object real_weights(py::handle self) const {
    return problem_.real_weights ? py::object(view(*problem_.real_weights, self)) : py::none();
  }
  py::object physical(py::handle self, bool sonos) const {
    if (sonos != crossbar_.spec().cell.is_sonos()) return py::none();
    return read_only_view(crossbar_.spec().weights, {crossbar_.spec().rows, crossbar_.spec().cols}, self);
  }
  py::object inputs(py::handle self) const { return view(problem_.inputs, self); }
  py::array current_programmed() const {
    return owning_array(Matrix(crossbar_.spec().rows, crossbar_.spec().cols, crossbar_.programmed_cell_currents()));
  }
  const io::RunConfig& config() const { return config_; }
  int physical_cols() const { return crossbar_.spec().cols; }
  std::string method() const { return std::string(solver::to_string(solver_.method())); }

 private:
  struct PerCell {  ///< [count, rows, cols] arrays, or None
    py::object cell, cell_ideal, v_row, v_col;
  };

  static py::array view(const Matrix& m, py::handle owner) {
    return read_only_view(m.data, {static_cast<py::ssize_t>(m.rows), static_cast<py::ssize_t>(m.cols)}, owner);
  }

  py::dict result(engine::ArrayResults&& r, const PerCell& per_cell) const {
    py::dict out;
    if (problem_.mapping != engine::MappingScheme::none) {
      out["output"] = owning_array(engine::signed_outputs(problem_.mapping, r.column_current));
      out["output_ideal"] = owning_array(engine::signed_outputs(problem_.mapping, r.column_current_ideal));
    } else {
      out["output"] = py::none();
      out["output_ideal"] = py::none();
    }
    out["column_current"] = owning_array(std::move(r.column_current));
    out["column_current_ideal"] = owning_array(std::move(r.column_current_ideal));
    out["cell_current"] = per_cell.cell;
    out["cell_current_ideal"] = per_cell.cell_ideal;
    out["v_row"] = per_cell.v_row;
    out["v_col"] = per_cell.v_col;
    out["newton_iterations"] = r.summary.newton_iterations;
    out["linear_iterations"] = r.summary.linear_iterations;
    out["method"] = r.summary.methods;
    out["backend"] = r.summary.backend;
    out["max_residual"] = r.summary.max_residual;
    out["solve_time"] = r.summary.solve_time;
    return out;
  }

  io::RunConfig config_;
  io::Problem problem_;  ///< its spec is moved into crossbar_
  netlists::Crossbar crossbar_;
  engine::ArraySolver solver_;
  std::mutex mutex_;
};

// ------------------------------------------------------------------------------------------------
// The other subcommands

py::array map_weights(py::handle w, const std::string& scheme, int levels) {
  Matrix weights = matrix_argument(w, "w", "[rows, cols]");
  io::check_real_weights(weights, "argument 'w'");
  if (scheme != "differential" && scheme != "offset")
    throw io::InputError(fmt::format("argument 'scheme' = '{}': expected \"differential\" or \"offset\"", scheme));
  if (levels < 2) throw io::InputError(fmt::format("argument 'levels' = {}: must be an integer >= 2", levels));
  return owning_array(engine::levels_from_real(engine::parse_mapping(scheme), weights, levels));
}

/// The files a run reads, which its output must not replace.
std::vector<std::string> run_inputs(const ConfigSource& c) {
  return {c.name, c.run.weights.file, c.run.inputs.file};
}

void write_table(const ConfigSource& c, const std::string& path) {
  io::AtomicOutput output(path, run_inputs(c));
  run_interruptible([&](const std::atomic<bool>& cancel) {
    const tables::EffectiveWeightTable table = tables::build_table(c.run, cancel_check(cancel));
    io::H5Writer h5(output.temp_path());
    tables::write_table(h5, c.run, table);
    h5.close();
    return 0;
  });
  output.commit();
}

void write_sweep(const ConfigSource& c, const std::string& path, unsigned threads) {
  const studies::SweepSpec spec = studies::parse_sweep(c.text, c.name, c.overrides);
  io::AtomicOutput output(path, run_inputs(c));
  run_interruptible([&](const std::atomic<bool>& cancel) {
    const unsigned jobs = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    const std::vector<studies::PointMetrics> points = studies::run_sweep(spec, jobs, cancel_check(cancel));
    io::H5Writer h5(output.temp_path());
    studies::write_sweep(h5, spec, points);
    h5.close();
    return 0;
  });
  output.commit();
}

py::dict comparison(const validation::VectorComparison& v) {
  py::dict d;
  d["max_abs_diff"] = v.max_abs_diff;
  d["max_rel_diff"] = v.max_rel_diff;
  d["max_col_rel_diff"] = v.max_col_rel_diff;
  d["counted_columns"] = v.counted_columns;
  d["max_node_diff"] = v.max_node_diff;
  d["spice_time"] = v.spice_time;
  return d;
}

py::dict check(const ConfigSource& c, const std::optional<std::string>& path, std::optional<double> tolerance) {
  const double tol = tolerance ? *tolerance : c.run.check.tolerance;
  if (!(tol > 0)) throw io::InputError(fmt::format("argument 'tolerance' = {}: must be a number > 0", tol));
  validation::guard_check_size(c.run);
  std::optional<io::AtomicOutput> output;
  if (path) output.emplace(*path, run_inputs(c));
  const io::Problem problem = validation::build_checked_problem(c.run);
  validation::CrossCheck check = run_interruptible([&](const std::atomic<bool>& cancel) {
    const netlists::Crossbar crossbar(problem.spec);
    validation::CrossCheck result = validation::cross_check(
        crossbar, problem.inputs, c.run.newton,
        [&](std::size_t v) { return fmt::format("xbar check of {}, input vector {}", c.name, v); },
        cancel_check(cancel));
    if (output) {
      io::H5Writer h5(output->temp_path());
      validation::write_check_results(h5, c.run, problem, result, tol);
      h5.close();
    }
    return result;
  });
  if (output) output->commit();
  py::dict d = comparison(check.overall);
  py::list vectors;
  for (const validation::VectorComparison& v : check.vectors) vectors.append(comparison(v));
  d["vectors"] = vectors;
  d["passed"] = check.passed(tol);
  d["tolerance"] = tol;
  d["xbar_time"] = check.xbar_time;
  d["spice_time"] = check.spice_time;
  d["column_current"] = owning_array(std::move(check.xbar.column_current));
  d["column_current_ideal"] = owning_array(std::move(check.xbar.column_current_ideal));
  d["column_current_spice"] = owning_array(std::move(check.current_spice));
  return d;
}

void register_exceptions(py::module_& m) {
  static py::exception<io::InputError> input_error(m, "InputError", PyExc_ValueError);
  static py::exception<engine::SolveFailure> no_solution(m, "NoSolutionError", PyExc_RuntimeError);
  static py::exception<validation::SpiceError> spice_error(m, "SpiceError", PyExc_RuntimeError);
  input_error.attr("__doc__") = "Bad input: config, argument, weights or inputs; the message is the command line's.";
  no_solution.attr("__doc__") = "No solution: Newton and every fallback failed, or the device laws overflowed.";
  spice_error.attr("__doc__") = "ngspice failed (xbar.check); the message carries ngspice's own lines.";
  py::register_exception_translator([](std::exception_ptr p) {
    const auto raise = [](const py::object& type, std::string_view what) {
      PyErr_SetString(type.ptr(), io::one_line(what).c_str());
    };
    try {
      std::rethrow_exception(p);
    } catch (const io::InputError& e) {
      raise(input_error, e.what());
    } catch (const engine::SolveFailure& e) {
      raise(no_solution, e.what());
    } catch (const devices::ModelError& e) {
      raise(no_solution, std::string("no solution: ") + e.what());
    } catch (const validation::SpiceError& e) {
      raise(spice_error, e.what());
    } catch (const toml::parse_error& e) {
      raise(input_error, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, io::k_out_of_memory);
    }
  });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "The compiled engine of the xbar package (use the names re-exported by xbar).";
  register_exceptions(m);

  py::class_<ConfigSource>(m, "Config")
      .def(py::init<std::string, std::string, std::vector<std::string>>(), py::arg("text"), py::arg("name"),
           py::arg("overrides"))
      .def_readonly("source_text", &ConfigSource::text)
      .def_readonly("name", &ConfigSource::name)
      .def_readonly("overrides", &ConfigSource::overrides)
      .def_property_readonly("text", [](const ConfigSource& c) { return c.run.text; })
      .def_property_readonly("rows", [](const ConfigSource& c) { return c.run.rows; })
      .def_property_readonly("cols", [](const ConfigSource& c) { return c.run.cols; })
      .def_property_readonly("physical_cols", [](const ConfigSource& c) { return c.run.physical_cols(); })
      .def_property_readonly("cell", [](const ConfigSource& c) { return std::string(c.run.cell.kind_name()); })
      .def_property_readonly("mapping", [](const ConfigSource& c) { return engine::to_string(c.run.mapping); })
      .def_property_readonly("levels", [](const ConfigSource& c) { return c.run.levels().levels; })
      .def_property_readonly("weights_kind", [](const ConfigSource& c) { return c.run.weights.kind; })
      .def_property_readonly("v_read", [](const ConfigSource& c) { return c.run.v_read; });
  m.def("read_config_text", &io::read_config_text, py::arg("path"));
  m.def("default_study", [] { return py::make_tuple(cli::k_default_study_toml, cli::k_default_study_name); });
  m.def("toml_text", &toml_text, py::arg("table"));
  m.def("override_text", &override_text, py::arg("key"), py::arg("value"));

  py::class_<CrossbarCore>(m, "Crossbar")
      .def(py::init(&CrossbarCore::make), py::arg("config"), py::arg("weights") = py::none())
      .def("solve", &CrossbarCore::solve, py::arg("inputs"), py::arg("cells") = false, py::arg("nodes") = false)
      .def_property_readonly("levels", [](py::object self) { return self.cast<const CrossbarCore&>().levels(self); })
      .def_property_readonly("weights",
                             [](py::object self) { return self.cast<const CrossbarCore&>().real_weights(self); })
      .def_property_readonly("vt", [](py::object self) { return self.cast<const CrossbarCore&>().physical(self, true); })
      .def_property_readonly("conductance",
                             [](py::object self) { return self.cast<const CrossbarCore&>().physical(self, false); })
      .def_property_readonly("inputs", [](py::object self) { return self.cast<const CrossbarCore&>().inputs(self); })
      .def_property_readonly("current_programmed", &CrossbarCore::current_programmed)
      .def_property_readonly("rows", [](const CrossbarCore& x) { return x.config().rows; })
      .def_property_readonly("cols", [](const CrossbarCore& x) { return x.config().cols; })
      .def_property_readonly("physical_cols", &CrossbarCore::physical_cols)
      .def_property_readonly("backend", &CrossbarCore::method);

  m.def("map_weights", &map_weights, py::arg("w"), py::arg("scheme"), py::arg("levels"));
  m.def("write_table", &write_table, py::arg("config"), py::arg("path"));
  m.def("write_sweep", &write_sweep, py::arg("config"), py::arg("path"), py::arg("threads") = 0);
  m.def("check", &check, py::arg("config"), py::arg("path") = py::none(), py::arg("tolerance") = py::none());
}
