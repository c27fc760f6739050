#!/usr/bin/env python3
"""Writes a binned BSIM4 n-channel model laid out as a foundry PDK ships it.

    pdk_card.py DIR [--bins N]

DIR/nch_tt.cir           the user's card: `.lib "lib/models.lib" tt`
DIR/lib/models.lib       the corner library: sections tt and ff, each an `.option scale=1u`, the
                         corner's parameter file and the model file (`.include`, relative paths)
DIR/lib/corners/*.spice  `.param` values per corner and per bin (vth0, u0, voff offsets, ...)
DIR/lib/models/nch.spice `.subckt nch d g s b` with defaults w=1 l=1 (outside every bin, as
                         PDK subckts often are) and N `.model nch__model.K nmos level=54` bins
                         whose parameters are expressions of the corner's `.param` values

Sizes on instance lines are in micrometres (`.option scale=1u`); the bins' lmin/lmax/wmin/wmax
are in metres, as BSIM4 wants. Each bin carries about as many parameters as a real PDK bin
(the BSIM4 parameters and their L, W and P binning coefficients), so that timing a card with 180
bins says what a real one costs. The numbers are plausible for a 130 nm-class 1.8 V device; this
is not a foundry model.
"""
import argparse
import math
import os

# Parameters every bin shares (BSIM4, level 54): the physics that does not change per bin.
COMMON = """+ level = 54 version = 4.5 binunit = 1 paramchk = 0 mobmod = 0 capmod = 2 igcmod = 0 igbmod = 0
+ geomod = 0 diomod = 1 rdsmod = 0 rbodymod = 0 rgatemod = 0 permod = 1 acnqsmod = 0 trnqsmod = 0
+ tempmod = 0 tnom = 27 epsrox = 3.9 toxp = {3.9e-9*nch__toxe_mult} toxm = {4.1e-9*nch__toxe_mult}
+ dtox = 0.2e-9 wint = 5e-9 lint = 8e-9 xj = 1.5e-7 ngate = 1e20 ndep = 1.7e17 nsd = 1e20
+ phin = 0 lpeb = 0 k3 = 0 k3b = 0 w0 = 2.5e-6 dvt2 = -0.03 minv = 0.05 voffl = 0 cdscb = 0
+ cdscd = 0 cit = 0 etab = -0.05 uc = 0 a1 = 0 a2 = 1 pdiblcb = 0 pvag = 0 delta = 0.01
+ rsw = 90 rdw = 90 prwg = 0 prwb = 0 wr = 1 alpha0 = 0 alpha1 = 0 agidl = 0 jss = 1e-6
+ jsws = 1e-12 njs = 1 kt1 = -0.11 kt2 = 0.022 ute = -1.5 ua1 = 4.3e-9 ub1 = -7.6e-18 at = 3.3e4
+ cgso = 2.5e-10 cgdo = 2.5e-10 cgbo = 1e-12 cgsl = 0 cgdl = 0 ckappas = 0.6 ckappad = 0.6 cf = 0
+ clc = 1e-7 cle = 0.6 dlc = 1e-8 dwc = 0 vfbcv = -1 noff = 1 voffcv = 0 acde = 1 moin = 15
+ cjs = 1e-3 cjd = 1e-3 mjs = 0.4 mjd = 0.4 pbs = 0.8 pbd = 0.8 cjsws = 1e-10 cjswd = 1e-10
+ mjsws = 0.3 mjswd = 0.3 pbsws = 0.8 pbswd = 0.8 cjswgs = 2e-10 cjswgd = 2e-10 mjswgs = 0.3
+ mjswgd = 0.3 pbswgs = 0.8 pbswgd = 0.8 tpb = 0.001 tcj = 0.001 tpbsw = 0.001 tcjsw = 0.001
+ tpbswg = 0.001 tcjswg = 0.001 xtis = 3 xtid = 3 noimod = 1 noia = 1e41 noib = 1e25 noic = 8e8
+ em = 4.1e7 af = 1 ef = 1 kf = 0 ntnoi = 1 tnoimod = 0 fnoimod = 1 saref = 1e-6 sbref = 1e-6
"""

# Parameters set per bin: (name, value at the bin's centre, dependence on ln L and ln W).
PER_BIN = [
    ("k1", 0.55, 0.02, -0.01), ("k2", -0.02, 0.005, 0.002), ("dvt0", 1.2, 0.1, 0.0), ("dvt1", 0.55, 0.0, 0.02),
    ("dsub", 0.5, 0.03, 0.0), ("cdsc", 2.4e-4, 0.0, 0.0), ("nfactor", 1.4, -0.05, 0.02), ("eta0", 0.05, -0.01, 0.0),
    ("ua", 1.2e-9, 0.0, 1e-11), ("ub", 1.0e-18, 0.0, 0.0), ("vsat", 1.0e5, -4e3, 0.0), ("a0", 1.1, 0.05, 0.0),
    ("ags", 0.2, 0.0, 0.0), ("keta", -0.04, 0.0, 0.002), ("pclm", 0.9, 0.05, 0.0), ("pdiblc1", 0.3, 0.0, 0.0),
    ("pdiblc2", 0.004, 0.0, 0.0), ("drout", 0.56, 0.0, 0.0), ("pscbe1", 8e8, 0.0, 0.0), ("pscbe2", 1e-5, 0.0, 0.0),
    ("rdsw", 220, 0.0, -5.0), ("lpe0", 1e-8, 0.0, 0.0),
]

# BSIM4 binning coefficients a real bin lists (set to 0: the bin's own values carry the size
# dependence here), so that each bin is as long as a PDK's.
BINNED = ["vth0", "k1", "k2", "dvt0", "dvt1", "dsub", "cdsc", "nfactor", "eta0", "ua", "ub", "uc", "vsat",
          "a0", "ags", "keta", "pclm", "pdiblc1", "pdiblc2", "drout", "pscbe1", "pscbe2", "rdsw", "u0",
          "voff", "a1", "a2", "prwg", "prwb", "wr", "delta", "kt1", "kt2", "ute", "ua1", "ub1", "at",
          "minv", "cit", "cdscb", "cdscd", "etab", "pvag", "lpe0", "dvt2", "k3", "k3b", "w0", "dvt0w", "dvt1w",
          "dvt2w", "dsub", "nch", "ngate", "ndep", "nsd", "xj", "vfb", "b0", "b1", "dwg", "dwb", "alpha0",
          "alpha1", "beta0", "agidl", "bgidl", "cgidl", "egidl", "fprout", "pdits", "pditsd", "lambda",
          "vtl", "lc", "xn", "eu", "cgsl", "cgdl", "ckappas", "ckappad", "cf", "clc", "cle", "vfbcv",
          "noff", "voffcv", "acde", "moin", "xrcrg1", "xrcrg2", "eigbinv", "nigc", "aigc", "bigc", "cigc"]


def edges(lo, hi, count):
    """count + 1 geometric bin edges from lo to hi (micrometres), 4 significant digits."""
    return [float(f"{lo * (hi / lo) ** (k / count):.4g}") for k in range(count + 1)]


def factor(bins):
    """n_l x n_w = bins, as square as possible (more L ranges than W ranges)."""
    n_w = max(d for d in range(1, int(math.isqrt(bins)) + 1) if bins % d == 0)
    return bins // n_w, n_w


def model_bin(k, l_lo, l_hi, w_lo, w_hi):
    ln_l = math.log(math.sqrt(l_lo * l_hi) / 0.3)
    ln_w = math.log(math.sqrt(w_lo * w_hi) / 0.6)
    lines = [f".model nch__model.{k} nmos",
             f"+ lmin = {l_lo * 1e-6:.4g} lmax = {l_hi * 1e-6:.4g} wmin = {w_lo * 1e-6:.4g} wmax = {w_hi * 1e-6:.4g}",
             COMMON.rstrip("\n"),
             f"+ toxe = {{4.1e-9*nch__toxe_mult}} vth0 = {{{0.47 - 0.015 * ln_l:.5g}+nch__vth0_diff_{k}}}",
             f"+ u0 = {{{0.032 + 0.001 * ln_l:.5g}*(1+nch__u0_diff_{k})}} voff = {{-0.12+nch__voff_diff_{k}}}"]
    values = [f"{name} = {centre + dl * ln_l + dw * ln_w:.6g}" for name, centre, dl, dw in PER_BIN]
    values += [f"{prefix}{name} = 0" for name in BINNED for prefix in "lwp"]
    lines += ["+ " + " ".join(values[i:i + 8]) for i in range(0, len(values), 8)]
    return "\n".join(lines) + "\n"


def corner(name, bins, vth0_shift, u0_shift, toxe_mult):
    text = [f"* corner {name}: per-bin parameter offsets of nch", f".param nch__toxe_mult = {toxe_mult}"]
    for k in range(bins):
        wiggle = 0.002 * math.sin(1.7 * k)  # a bin's own fitting offset
        text.append(f".param nch__vth0_diff_{k} = {vth0_shift + wiggle:.6g} nch__u0_diff_{k} = {u0_shift:.4g}"
                    f" nch__voff_diff_{k} = {wiggle / 2:.6g}")
    return "\n".join(text) + "\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--bins", type=int, default=6)
    args = parser.parse_args()
    n_l, n_w = factor(args.bins)
    l_edges, w_edges = edges(0.15, 0.9, n_l), edges(0.36, 0.99, n_w)
    models = [f"* nch: binned BSIM4 n-channel FET, {args.bins} bins (L {l_edges[0]}-{l_edges[-1]} um, "
              f"W {w_edges[0]}-{w_edges[-1]} um), written by tests/pdk_card.py",
              ".subckt nch d g s b w=1 l=1 mult=1",
              "mnch d g s b nch__model l={l} w={w} m={mult}"]
    k = 0
    for i in range(n_l):
        for j in range(n_w):
            models.append(model_bin(k, l_edges[i], l_edges[i + 1], w_edges[j], w_edges[j + 1]).rstrip("\n"))
            k += 1
    models.append(".ends nch")
    write(os.path.join(args.dir, "lib", "models", "nch.spice"), "\n".join(models) + "\n")
    write(os.path.join(args.dir, "lib", "corners", "tt.spice"), corner("tt", args.bins, 0.0, 0.0, 1.0))
    write(os.path.join(args.dir, "lib", "corners", "ff.spice"), corner("ff", args.bins, -0.04, 0.08, 0.96))
    library = ["* corner library of the test PDK (written by tests/pdk_card.py)"]
    for name in ("tt", "ff"):
        library += [f".lib {name}", ".option scale=1u", f'.include "corners/{name}.spice"',
                    '.include "models/nch.spice"', f".endl {name}"]
    write(os.path.join(args.dir, "lib", "models.lib"), "\n".join(library) + "\n")
    write(os.path.join(args.dir, "nch_tt.cir"),
          "* nch of the test PDK, typical corner; sizes in micrometres (the library sets scale=1u)\n"
          '.lib "lib/models.lib" tt\n')


if __name__ == "__main__":
    main()
