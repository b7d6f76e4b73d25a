"""Who trained the runs: the machine and library versions of each run, and of a whole study.

Every run file records the machine, versions, command and date of the
process that trained it. A study's config names the machines and versions of
all its runs, and plots.py's tables and figures say them; both aggregate here,
from the per-run records, so they cannot disagree. Plain Python: no
TensorFlow is imported to describe it.
"""
import importlib.metadata
import os
import platform

from batchgrow.study import NOT_RECORDED

# A machine's own description holds commas ("AMD EPYC, 2 cores, Linux ..."),
# so several machines are joined with semicolons.
MACHINE_SEPARATOR = "; "
# Several versions of one package are joined with slashes.
VERSION_SEPARATOR = " / "
PACKAGES = ("tensorflow", "keras", "numpy")


# ----------------------------------------------------------------------------
# This process
# ----------------------------------------------------------------------------
def library_versions():
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        versions[package] = importlib.metadata.version(package)
    return versions


def machine_description():
    """'AMD EPYC (family 25 model 1 AVX2), 2 cores, Linux 6.18': the CPU as finely as runs reproduce.

    Float rounding in oneDNN's kernels follows the instruction set they
    dispatch to, so two CPUs that share a name (AMD EPYC) but not a
    generation train different numbers: the family, the model and the widest
    vector instructions name the type.
    """
    model, details = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            fields = dict(line.split(":", 1) for line in cpuinfo.read().split("\n\n")[0].splitlines() if ":" in line)
        fields = {name.strip(): value.strip() for name, value in fields.items()}
        model = fields.get("model name", model)
        flags = set(fields.get("flags", "").split())
        widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
        details = f" (family {fields.get('cpu family', '?')} model {fields.get('model', '?')} {widest})"
    except OSError:
        pass
    return f"{model}{details}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


# ----------------------------------------------------------------------------
# Many runs
# ----------------------------------------------------------------------------
def machine_counts(provenance, keys=None):
    """[(machine, runs)] of the machines that trained the runs, most runs first.

    provenance maps a run key to its record, or to None for a run file from
    before provenance was recorded, which counts as NOT_RECORDED; keys limits
    the count to those runs (default: every run it lists).
    """
    counts = {}
    for key in list(provenance) if keys is None else keys:
        record = provenance.get(key)
        machine = (record.get("machine") if isinstance(record, dict) else None) or NOT_RECORDED
        counts[machine] = counts.get(machine, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def version_counts(provenance, keys=None):
    """{package: {version: runs}} over the runs that have a record."""
    found = {}
    for key in list(provenance) if keys is None else keys:
        record = provenance.get(key)
        versions = record.get("versions", {}) if isinstance(record, dict) else {}
        for package, version in versions.items():
            by_version = found.setdefault(package, {})
            by_version[str(version)] = by_version.get(str(version), 0) + 1
    return found


def assembled_provenance(provenance):
    """The config's account of the study's runs: every machine and every version of each package."""
    machines = sorted(machine for machine, _ in machine_counts(provenance))
    return {"machines": machines, "machine": MACHINE_SEPARATOR.join(machines),
            "versions": {package: VERSION_SEPARATOR.join(sorted(by_version))
                         for package, by_version in version_counts(provenance).items()}}


def runs_text(count):
    return f"{count} run{'s' if count != 1 else ''}"


def describe_machines(counts):
    """"A" for one machine, "mixed: A (n runs); B (m runs)" for several, "" for none."""
    if not counts:
        return ""
    if len(counts) == 1:
        return counts[0][0]
    return "mixed: " + MACHINE_SEPARATOR.join(f"{machine} ({runs_text(runs)})" for machine, runs in counts)


def describe_versions(provenance, keys=None):
    """{package: text}: one version, or each with its run count where they differ."""
    return {package: (next(iter(by_version)) if len(by_version) == 1 else VERSION_SEPARATOR.join(
                f"{version} ({runs_text(count)})" for version, count in sorted(by_version.items())))
            for package, by_version in version_counts(provenance, keys).items()}
