# hakit — build, test and install.  `make demo` and `make test` work on a fresh Debian 12 machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PREFIX   ?= /usr
OCF_ROOT ?= /usr/lib/ocf
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
# Debian's /usr/bin/python3 reads this directory; the agents run under that interpreter.
PYTHON_SITELIB ?= $(PREFIX)/lib/python3/dist-packages
DESTDIR  ?=

SYSTEM_PYTHON := /usr/bin/python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMPS := .stamps

# Runtime packages an admin needs, then what the tests and the lab run for real.
RUNTIME_DEBS := python3 python3-rados python3-rbd python3-lxc python3-pyghmi \
	python3-requests
TEST_DEBS := python3-venv pacemaker pacemaker-cli-utils corosync pcs crmsh resource-agents \
	fence-agents ceph-mon ceph-osd ceph-mgr ceph-common rbd-fuse lxc lxc-templates busybox-static \
	openipmi ipmitool iproute2 e2fsprogs xfsprogs util-linux psmisc libxml2-utils procps kmod fuse3 \
	debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools lintian man-db \
	qemu-system-x86 rbd-nbd ceph-resource-agents udev ipvsadm keepalived ldirectord nftables \
	python3-matplotlib
TEST_PIPS := pytest hypothesis lxml ruff mypy
# The Redfish BMC emulator gets a venv of its own so its newer requests/urllib3 never
# shadow Debian's, which the agents use.
SUSHY_VENV := .venv-sushy
SUSHY_PIPS := sushy-tools bcrypt

OCF_AGENTS   := $(filter-out agents/fence_%,$(wildcard agents/*))
FENCE_AGENTS := $(wildcard agents/fence_*)

# Agents run as `python3 -S` (docs/developing.md, "Start-up cost") and name Debian's
# dist-packages themselves; another PYTHON_SITELIB (where hakit goes) is added before it.
DEBIAN_SITELIB := /usr/lib/python3/dist-packages
ifeq ($(PYTHON_SITELIB),$(DEBIAN_SITELIB))
INSTALL_AGENT := cat
else
INSTALL_AGENT := sed -e 's|^sys.path.append("$(DEBIAN_SITELIB)")$$|sys.path += ["$(PYTHON_SITELIB)", "$(DEBIAN_SITELIB)"]|'
endif

.PHONY: help deps vmkernel test lint unit bench demo soak install uninstall clean

help:
	@echo "make demo       bring up the lab cluster and show a failover"
	@echo "make test       install what is missing, then lint and run every test"
	@echo "make lint       ruff + mypy --strict (lib and lab)"
	@echo "make bench      benchmarks against the ClusterLabs agents (BENCHMARKS.md)"
	@echo "make soak       SOAK_FAULTS faults in a row on SOAK_COUNT containers; nothing may be lost"
	@echo "make install    agents, fence agents and the library (DESTDIR, PREFIX, OCF_ROOT)"
	@echo "make deb        the Debian package, build/deb/hakit_VERSION_all.deb (lintian-checked)"

# Installs missing Debian packages (apt-get update first) and the test venv.
deps: $(STAMPS)/venv $(STAMPS)/sushy
	@missing=$$(for p in $(RUNTIME_DEBS) $(TEST_DEBS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMPS)/venv: Makefile
	@command -v $(SYSTEM_PYTHON) >/dev/null && $(SYSTEM_PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv; }
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check $(TEST_PIPS)
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/sushy:
	$(SYSTEM_PYTHON) -m venv $(SUSHY_VENV)
	$(SUSHY_VENV)/bin/pip install -q --disable-pip-version-check $(SUSHY_PIPS)
	@mkdir -p $(STAMPS) && touch $@

lint: deps
	$(VENV)/bin/ruff check lib agents tests lab
	$(VENV)/bin/mypy --strict lib lab

# Debian's kernel for the QEMU guests (krbd, nbd, IPVS), downloaded once into .cache/vm.
vmkernel: deps
	$(VPY) -m tests.harness.vm prepare

# The suites run as a few pytest sessions side by side (tests/parallel.py: most of the time
# is waiting on guests, clusters and BMCs); every shard's failures are printed, any fails it.
test: deps lint vmkernel
	PYTHONPATH=$(CURDIR)/lib $(VPY) -m tests.parallel $(PYTEST_ARGS)

bench: deps vmkernel
	@if ls tests/bench/bench_*.py >/dev/null 2>&1; then PYTHONPATH=$(CURDIR)/lib $(VPY) -m tests.bench $(ONLY); \
	else echo "make bench: no benchmarks yet"; fi

# The long soak (the short one runs in make test): faults in a row on the scaled lab, then
# every record, image, lock and resource checked; the report goes to build/soak-report.json.
SOAK_FAULTS ?= 50
SOAK_COUNT  ?= 70
SOAK_SEED   ?= 1
soak: deps
	@mkdir -p build
	PYTHONPATH=$(CURDIR)/lib:$(CURDIR) $(SYSTEM_PYTHON) -m lab --name soak --state-dir /run/hakit-soak \
		soak --count $(SOAK_COUNT) --faults $(SOAK_FAULTS) --seed $(SOAK_SEED) \
		--report build/soak-report.json

# The lab (lab/) runs from the checkout and is never installed.  The demo tears its lab
# down at the end (also after a failure or Ctrl-C).
demo: deps
	PYTHONPATH=$(CURDIR)/lib:$(CURDIR) $(SYSTEM_PYTHON) -m lab demo

install: install-agents
	install -d $(DESTDIR)$(PYTHON_SITELIB)
	install -D -m 0755 bin/hakit-snippet $(DESTDIR)$(BINDIR)/hakit-snippet
	cd lib && find hakit -name '__pycache__' -prune -o -type f \( -name '*.py' -o -name '*.dtd' -o -name py.typed \) -print \
		| while read -r f; do install -D -m 0644 "$$f" "$(DESTDIR)$(PYTHON_SITELIB)/$$f"; done
	@# Byte-compiled now, as a Debian package's postinst (py3compile) would: on a read-only
	@# /usr every agent run would otherwise compile every module it imports.
	$(SYSTEM_PYTHON) -m compileall -q -s "$(DESTDIR)/" -p / "$(DESTDIR)$(PYTHON_SITELIB)/hakit"

# The executables only (the package installs the library through pybuild).
install-agents:
	install -d $(DESTDIR)$(OCF_ROOT)/resource.d/hakit $(DESTDIR)$(SBINDIR)
	@for a in $(OCF_AGENTS); do $(INSTALL_AGENT) $$a > $(DESTDIR)$(OCF_ROOT)/resource.d/hakit/$$(basename $$a) \
		&& chmod 0755 $(DESTDIR)$(OCF_ROOT)/resource.d/hakit/$$(basename $$a); done
	@for a in $(FENCE_AGENTS); do $(INSTALL_AGENT) $$a > $(DESTDIR)$(SBINDIR)/$$(basename $$a) \
		&& chmod 0755 $(DESTDIR)$(SBINDIR)/$$(basename $$a); done

# Man pages from the agents' own metadata (as resource-agents builds its pages):
# ocf_hakit_NAME(7) for resource agents, NAME(8) for fence agents (their -o manpage).
MANDIR ?= build/man
man:
	@mkdir -p $(MANDIR)
	@set -e; for a in $(OCF_AGENTS); do n=$$(basename $$a); \
		PYTHONPATH=$(CURDIR)/lib $(SYSTEM_PYTHON) $$a meta-data > $(MANDIR)/.$$n.xml; \
		PYTHONPATH=$(CURDIR)/lib $(SYSTEM_PYTHON) -m hakit.ocf.manpage < $(MANDIR)/.$$n.xml > $(MANDIR)/ocf_hakit_$$n.7; \
		rm -f $(MANDIR)/.$$n.xml; done
	@set -e; for a in $(FENCE_AGENTS); do n=$$(basename $$a); \
		PYTHONPATH=$(CURDIR)/lib $(SYSTEM_PYTHON) $$a -o manpage > $(MANDIR)/$$n.8; done

# The Debian package, built from a copy of the tree so that nothing lands beside the
# checkout; lintian must report no errors.  DEB_VERSION overrides debian/changelog's.
DEB_DIR  ?= build/deb
DEB_SRC  := $(DEB_DIR)/hakit
DEB_FILES := Makefile README.md pyproject.toml setup.cfg agents bin crm-snippets debian docs lib
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude=.gitkeep $(DEB_FILES) | tar -x -C $(DEB_SRC)
	@if [ -n "$(DEB_VERSION)" ]; then cd $(DEB_SRC) && { \
		printf 'hakit (%s) unstable; urgency=medium\n\n  * Rebuilt as %s.\n\n -- %s  %s\n\n' \
		"$(DEB_VERSION)" "$(DEB_VERSION)" "$$(dpkg-parsechangelog -S Maintainer)" "$$(date -R)"; \
		cat debian/changelog; } > debian/changelog.new && mv debian/changelog.new debian/changelog; fi
	@# Debian's own python3 and tools, whatever else is first on the caller's PATH.
	cd $(DEB_SRC) && PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -b -us -uc --no-pre-clean -j1 >../build.log 2>&1 \
		|| { tail -40 ../build.log; exit 1; }
	lintian --fail-on error $(DEB_DIR)/hakit_*_all.deb
	@ls $(DEB_DIR)/*.deb

uninstall:
	@for a in $(OCF_AGENTS); do rm -f $(DESTDIR)$(OCF_ROOT)/resource.d/hakit/$$(basename $$a); done
	-rmdir $(DESTDIR)$(OCF_ROOT)/resource.d/hakit 2>/dev/null
	@for a in $(FENCE_AGENTS); do rm -f $(DESTDIR)$(SBINDIR)/$$(basename $$a); done
	rm -rf $(DESTDIR)$(PYTHON_SITELIB)/hakit
	rm -f $(DESTDIR)$(BINDIR)/hakit-snippet

clean:
	rm -rf $(VENV) $(SUSHY_VENV) $(STAMPS) build .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
