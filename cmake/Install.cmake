# install() rules and the Debian packages (cpack -G DEB in the build folder):
#   lido          the engine (lidod), lidoctl, the systemd unit, sysusers/tmpfiles entries, the
#                 default /etc/lido configuration with its welcome page, the sample, logrotate,
#                 man pages, bash completion, the configuration reference. No Qt.
#   lido-console  the Qt console (lido), its desktop entry, AppStream metainfo and icons.
# Paths are GNUInstallDirs' for the prefix chosen at configure time (the default is /usr, the
# package's; -DCMAKE_INSTALL_PREFIX=/usr/local for a hand install), and the unit file is written
# with them.
include(GNUInstallDirs)

set(LIDO_RELEASE_DATE "2026-12-02")
set(LIDO_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(LIDO_SBINDIR ${CMAKE_INSTALL_FULL_SBINDIR})
set(LIDO_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
set(LIDO_DATADIR ${CMAKE_INSTALL_FULL_DATADIR})
set(LIDO_LIBEXECDIR ${CMAKE_INSTALL_FULL_LIBEXECDIR}/lido)
set(LIDO_LOGDIR ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/log/lido)
set(LIDO_UNITDIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
set(LIDO_SYSUSERSDIR ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d)
set(LIDO_TMPFILESDIR ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d)
set(res ${PROJECT_SOURCE_DIR}/resources)
set(gen ${CMAKE_BINARY_DIR}/install)

# --- lido (component server) ---
install(TARGETS lidod RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT server)
install(TARGETS lidoctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(TARGETS lido-sample-fcgi RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/lido COMPONENT server)

configure_file(${res}/systemd/lido.service.in ${gen}/lido.service @ONLY)
install(FILES ${gen}/lido.service DESTINATION ${LIDO_UNITDIR} COMPONENT server)
install(FILES ${res}/systemd/lido.sysusers DESTINATION ${LIDO_SYSUSERSDIR} RENAME lido.conf COMPONENT server)
install(FILES ${res}/systemd/lido.tmpfiles DESTINATION ${LIDO_TMPFILESDIR} RENAME lido.conf COMPONENT server)
configure_file(${res}/systemd/lido.logrotate ${gen}/lido.logrotate @ONLY)
install(FILES ${gen}/lido.logrotate DESTINATION ${LIDO_SYSCONFDIR}/logrotate.d RENAME lido COMPONENT server)

# The default configuration: a welcome page on 127.0.0.1:80.
configure_file(${res}/etc/applicationHost.config ${gen}/applicationHost.config @ONLY)
install(FILES ${gen}/applicationHost.config DESTINATION ${LIDO_SYSCONFDIR}/lido COMPONENT server)
install(FILES ${res}/welcome/index.html DESTINATION ${CMAKE_INSTALL_DATADIR}/lido/www COMPONENT server)

# The sample (the console's bundled one) with its placeholders filled for the installed tree.
set(SAMPLE_DIR ${LIDO_DATADIR}/lido/sample)
set(BIN_DIR ${LIDO_LIBEXECDIR})
set(LOG_DIR ${LIDO_LOGDIR})
configure_file(${res}/sample/applicationHost.config ${gen}/sample/applicationHost.config @ONLY)
install(FILES ${gen}/sample/applicationHost.config DESTINATION ${CMAKE_INSTALL_DATADIR}/lido/sample COMPONENT server)
install(DIRECTORY ${res}/sample/www ${res}/sample/php DESTINATION ${CMAKE_INSTALL_DATADIR}/lido/sample COMPONENT server
        PATTERN "cgi-bin/*" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# Man pages: three written by hand, applicationHost.config(5) written from the schema by lidoctl;
# all gzipped as Debian's policy has them.
add_custom_command(OUTPUT ${gen}/man/applicationHost.config.5
  COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}/man
  COMMAND lidoctl reference --format man --date ${LIDO_RELEASE_DATE} > ${gen}/man/applicationHost.config.5
  DEPENDS lidoctl VERBATIM)
set(man_gz)
foreach(page lido.1 lidoctl.1 lidod.8 applicationHost.config.5)
  if(page STREQUAL "applicationHost.config.5")
    set(src ${gen}/man/${page})
  else()
    set(src ${res}/man/${page})
  endif()
  add_custom_command(OUTPUT ${gen}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}/man
    COMMAND gzip -9n -c ${src} > ${gen}/man/${page}.gz
    DEPENDS ${src} VERBATIM)
  list(APPEND man_gz ${gen}/man/${page}.gz)
endforeach()
add_custom_target(lido_man ALL DEPENDS ${man_gz})
install(FILES ${gen}/man/lidoctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
install(FILES ${gen}/man/lidod.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT server)
install(FILES ${gen}/man/applicationHost.config.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT server)
install(FILES ${res}/completion/lidoctl DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/docs/configuration.md ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/lido COMPONENT server)
install(FILES ${gen}/sample/applicationHost.config DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/lido/examples COMPONENT server)

# --- lido-console (component console) ---
if(LIDO_BUILD_UI)
  install(TARGETS lido RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT console)
  install(FILES ${gen}/man/lido.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT console)
  install(FILES ${res}/desktop/org.lidoproject.Lido.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT console)
  install(FILES ${res}/desktop/org.lidoproject.Lido.metainfo.xml DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo COMPONENT console)
  install(FILES ${res}/icons/org.lidoproject.Lido.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps COMPONENT console)
  install(FILES ${res}/icons/lido-healthy.svg ${res}/icons/lido-degraded.svg ${res}/icons/lido-failed.svg
          DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/status COMPONENT console)
endif()

# --- CPack: two Debian packages ---
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lido)
set(CPACK_PACKAGE_VENDOR "The Lido developers")
set(CPACK_PACKAGE_CONTACT "Lido developers <lido@lidoproject.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "application server for CGI and FastCGI applications with IIS's configuration schema")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server)
if(LIDO_BUILD_UI)
  list(APPEND CPACK_COMPONENTS_ALL console)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME lido)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "php-cgi, logrotate")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA "${res}/debian/postinst;${res}/debian/prerm;${res}/debian/postrm;${res}/debian/conffiles")
# The first line is the summary; CPack indents the others as Debian's extended description.
set(CPACK_COMPONENT_SERVER_DESCRIPTION "Lido application server: the engine and lidoctl
lidod hosts HTTP and HTTPS sites, runs CGI programs and FastCGI application pools (PHP, Python,
Perl, C) with an applicationHost.config in IIS's schema, applies configuration changes live and
keeps pools alive with recycling and rapid-fail protection. It runs as the lido user.")
set(CPACK_DEBIAN_CONSOLE_PACKAGE_NAME lido-console)
set(CPACK_DEBIAN_CONSOLE_PACKAGE_SECTION admin)
# The X11/Wayland platform plugins are a package of their own; SVG icons need Qt's SVG plugins.
set(CPACK_DEBIAN_CONSOLE_PACKAGE_DEPENDS "qt6-qpa-plugins")
set(CPACK_DEBIAN_CONSOLE_PACKAGE_RECOMMENDS "lido, libqt6svg6")
set(CPACK_COMPONENT_CONSOLE_DESCRIPTION "Lido application server: the desktop console
A Qt console that shows Lido's application pools live, edits the configuration with
validation, and starts and stops pools from the system tray. It attaches to the lido service
or runs an engine of its own.")
include(CPack)
