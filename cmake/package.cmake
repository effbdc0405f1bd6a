# Install layout (`make install`, i.e. cmake --install with PREFIX and DESTDIR) and the Debian package (`make deb`:
# CPack's DEB generator on these same rules, so there is one description of what goes where).
#
#   PREFIX/lib/chat/          every program (systemd starts them; nobody runs chat-auth by hand) and render-nginx.sh
#   PREFIX/bin/               links to the three an operator runs: chat-admin, chat-migrate, chat-worker
#   PREFIX/share/chat/        sql/, nginx/ (site template, snippets, generated group files), chat-groups.txt,
#                             chat.env.example; www/ comes from cmake/www.cmake
#   PREFIX/share/doc/chat/    the install guide (deploy/README.md), events.md, worker.md, copyright, changelog
#   UNITDIR                   the units; /lib/systemd/system for PREFIX=/usr (Debian 12), else PREFIX/lib/systemd/system
#                             (systemd looks in /usr/local/lib/systemd/system too); the generator beside them
#   SYSCONFDIR/chat/chat.env  the configuration (a conffile of the package); /etc for PREFIX=/usr
# The nginx site itself (/etc/nginx/sites-available/chat) is rendered from chat.env by render-nginx.sh --package
# (postinst), not installed: it holds the CORS origins and realtime ports of chat.env.

set(CHAT_INSTALL_PKGLIBDIR lib/chat)
set(CHAT_PKGLIBDIR ${CMAKE_INSTALL_PREFIX}/${CHAT_INSTALL_PKGLIBDIR})
set(CHAT_DATADIR ${CMAKE_INSTALL_FULL_DATADIR}/chat)
set(CHAT_DOCDIR ${CMAKE_INSTALL_FULL_DOCDIR})
set(CHAT_ENV_FILE ${CMAKE_INSTALL_FULL_SYSCONFDIR}/chat/chat.env)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(CHAT_SYSTEMD_ROOT /lib/systemd)
else()
  set(CHAT_SYSTEMD_ROOT ${CMAKE_INSTALL_PREFIX}/lib/systemd)
endif()
set(CHAT_UNITDIR ${CHAT_SYSTEMD_ROOT}/system)

# ---- the programs
install(TARGETS ${CHAT_PROGRAMS} RUNTIME DESTINATION ${CHAT_INSTALL_PKGLIBDIR})
foreach(cmd chat-admin chat-migrate chat-worker)
  install(CODE "file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    file(CREATE_LINK ../${CHAT_INSTALL_PKGLIBDIR}/${cmd}
         \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/${cmd}\" SYMBOLIC)")
endforeach()
install(PROGRAMS ${CMAKE_SOURCE_DIR}/deploy/render-nginx.sh DESTINATION ${CHAT_INSTALL_PKGLIBDIR})

# ---- data: migrations, nginx templates and snippets, the group list
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/chat/sql FILES_MATCHING PATTERN "*.sql")
install(FILES ${CMAKE_SOURCE_DIR}/nginx/chat-site.conf.template DESTINATION ${CMAKE_INSTALL_DATADIR}/chat/nginx)
file(GLOB chat_nginx_snippets ${CMAKE_SOURCE_DIR}/nginx/chat-*.conf)
install(FILES ${chat_nginx_snippets} ${CMAKE_BINARY_DIR}/nginx/chat-group-upstreams.conf
              ${CMAKE_BINARY_DIR}/nginx/chat-group-locations.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chat/nginx)
install(FILES ${CMAKE_BINARY_DIR}/chat-groups.txt ${CMAKE_SOURCE_DIR}/deploy/chat.env.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chat)

# ---- documentation
install(FILES ${CMAKE_SOURCE_DIR}/deploy/README.md ${CMAKE_SOURCE_DIR}/docs/api.md ${CMAKE_SOURCE_DIR}/docs/events.md
              ${CMAKE_SOURCE_DIR}/docs/worker.md ${CMAKE_SOURCE_DIR}/docs/metrics.md
              ${CMAKE_SOURCE_DIR}/deploy/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# the example Prometheus scrape configuration, its alert rules and their promtool tests (docs/metrics.md)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/prometheus/prometheus.yml ${CMAKE_SOURCE_DIR}/deploy/prometheus/chat-alerts.yml
              ${CMAKE_SOURCE_DIR}/deploy/prometheus/chat-alerts.test.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chat/prometheus)
# Debian wants the changelog compressed, reproducibly (-n: no name or time stamp in the gzip header).
find_program(CHAT_GZIP gzip REQUIRED)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/debian
  COMMAND ${CHAT_GZIP} -9nc ${CMAKE_SOURCE_DIR}/deploy/debian/changelog > ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/deploy/debian/changelog VERBATIM)
add_custom_target(chat_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz)
install(FILES ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/debian/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME chat)

# ---- configuration: 0640, it holds the JWT secret (systemd reads it as root for EnvironmentFile=)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/chat.env.example DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/chat
        RENAME chat.env PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

# ---- systemd: units with this prefix's paths, the handler groups' target (cmake/chat_groups.cmake), the generator
set(chat_units chat.target chat-migrate.service chat-worker.service chat-realtime@.service chat-handler@.service
               chat-handler@.socket)
set(chat_unit_files ${CMAKE_BINARY_DIR}/systemd/chat-handlers.target)
foreach(unit IN LISTS chat_units)
  configure_file(${CMAKE_SOURCE_DIR}/deploy/systemd/${unit}.in ${CMAKE_BINARY_DIR}/systemd/${unit} @ONLY)
  list(APPEND chat_unit_files ${CMAKE_BINARY_DIR}/systemd/${unit})
endforeach()
configure_file(${CMAKE_SOURCE_DIR}/deploy/systemd/chat-realtime-generator.in
               ${CMAKE_BINARY_DIR}/systemd/chat-realtime-generator @ONLY)
install(FILES ${chat_unit_files} DESTINATION ${CHAT_UNITDIR})
install(PROGRAMS ${CMAKE_BINARY_DIR}/systemd/chat-realtime-generator DESTINATION ${CHAT_SYSTEMD_ROOT}/system-generators)
# the units' script tests (tests/systemd/) read them from the build
set(CHAT_UNIT_NAMES ${chat_units} chat-handlers.target)

# ---- the package: `make deb` (cpack -G DEB in the build directory) -> build/chat_VERSION_ARCH.deb
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
# The units and the generator name absolute paths of this configuration: the package is built from a build configured
# with CMAKE_INSTALL_PREFIX=/usr (make deb does that).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_CONTACT "chat maintainers <maintainers@users.noreply.b-seed-90d3faa8.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "team-chat backend: FastCGI handlers behind nginx, WebSocket daemons, worker")
set(CPACK_PACKAGE_DESCRIPTION "A team-chat backend in C++20: REST handler groups (FastCGI, socket-activated
by systemd) behind nginx, epoll WebSocket daemons for live updates, and a
background worker on a Redis job queue. PostgreSQL holds the data, Redis the
events stream, presence and sessions; either may live on another host.")
# A Debian revision (-1): the package is built from this tree, not a native Debian package.
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# deploy/debian/changelog's newest entry is this version (lintian and dpkg read the version from both)
file(STRINGS ${CMAKE_SOURCE_DIR}/deploy/debian/changelog chat_changelog_top LIMIT_COUNT 1)
if(NOT chat_changelog_top MATCHES "^chat \\(${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}\\) ")
  message(FATAL_ERROR "deploy/debian/changelog starts with '${chat_changelog_top}', not version "
                      "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}: add an entry")
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://chat.example.com/")
# dpkg-shlibdeps adds the libraries (libpq5, libhiredis0.14, libjwt0, libcjson1, libargon2-1, libfcgi0ldbl, ...);
# what the maintainer scripts and the site need is listed here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "nginx, adduser, init-system-helpers (>= 1.54), gettext-base")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql (>= 15), redis-server")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
    ${CMAKE_SOURCE_DIR}/deploy/debian/postrm ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles)
include(CPack)
