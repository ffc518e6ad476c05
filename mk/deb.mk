# Debian packages, built with Debian's own tools from the packaging in
# mk/debian, and their test on a fresh Debian chroot.
#
#   make deb         build/deb/{shmapfs,libshmap0,libshmap-dev}_*.deb, and
#                    lintian's verdict on them (no errors allowed)
#   make check-deb   install them on a fresh debootstrap'ed bookworm
#                    (minbase) and use them there: mount, fstab, the
#                    README's C example, shmapctl, and a purge that leaves
#                    no file behind (mk/check-deb.sh; about 3 minutes
#                    here, half of it debootstrap; each step time-limited)
#
# The tools come from Debian's archive, installed here when missing (as
# make deps does), so that make deps stays what the build and tests need.

DEB_TOOLS := debhelper dpkg-dev fakeroot lintian debootstrap
DEB_DIR := build/deb
DEB_VERSION = $(shell sed -n '1s/.*(\(.*\)).*/\1/p' mk/debian/changelog)
DEB_SRC = $(DEB_DIR)/shmapfs-$(DEB_VERSION)

.PHONY: deb deb-deps check-deb
deb-deps:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(DEB_PACKAGES) $(DEB_TOOLS)"

# A clean copy of the tree with mk/debian as its debian/, built there.
deb: deb-deps
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	cp -a Makefile README.md .clang-format fs lib mk mount-helpers tests \
		$(DEB_SRC)/
	$(MAKE) -C $(DEB_SRC) --no-print-directory clean >/dev/null
	cp -a mk/debian $(DEB_SRC)/debian
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --info --display-info $(DEB_DIR)/*.changes \
		>$(DEB_DIR)/lintian.txt 2>&1; s=$$?; \
		grep -E '^[EWIP]:' $(DEB_DIR)/lintian.txt; exit $$s
	@ls $(DEB_DIR)/*.deb

check-deb: deb
	mk/check-deb.sh $(DEB_DIR)
