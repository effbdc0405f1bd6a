# The API documentation's static web root, ${CMAKE_BINARY_DIR}/www, which nginx serves at /docs, /redoc and
# /openapi.json: the pages, the document, and Swagger UI's and ReDoc's files from the npm packages pinned in
# docs/vendor/package-lock.json. Nothing is loaded from a CDN, so the pages work on a server without internet and
# under a Content-Security-Policy of 'self'.
#
#   www/swagger.html, www/redoc.html, www/swagger-init.js    docs/*.in and docs/swagger-init.js
#   www/openapi.json                                          docs/openapi.json (docs/gen_openapi.py writes it)
#   www/assets/swagger-ui-VERSION/, www/assets/redoc-VERSION/ only the files the pages load, and the licenses
#
# The asset directories carry the package's version, so nginx can let browsers cache them for good: a new
# version is a new URL, which the pages (never cached without revalidation) name.

set(CHAT_WWW_DIR ${CMAKE_BINARY_DIR}/www)
set(_www_vendor_src ${CMAKE_SOURCE_DIR}/docs/vendor)
set(_www_vendor ${CMAKE_BINARY_DIR}/www-vendor)   # npm ci's node_modules, kept between builds
find_program(CHAT_NPM npm REQUIRED)                 # deploy/deps.sh installs it

# The versions are the lock's: read here so that the asset paths and the pages cannot name another.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_www_vendor_src}/package-lock.json)
file(READ ${_www_vendor_src}/package-lock.json _www_lock)
string(JSON SWAGGER_UI_VERSION GET "${_www_lock}" packages node_modules/swagger-ui-dist version)
string(JSON REDOC_VERSION GET "${_www_lock}" packages node_modules/redoc version)

# npm ci only when the lock (or package.json) changes; its stamp is what the copies below depend on.
# --ignore-scripts: no package needs its install script for the files taken here, and swagger-ui-dist's
# dependency @scarf/scarf would otherwise report the install to its vendor.
add_custom_command(
  OUTPUT ${_www_vendor}/npm-ci.stamp
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_www_vendor}
  COMMAND ${CMAKE_COMMAND} -E copy ${_www_vendor_src}/package.json ${_www_vendor_src}/package-lock.json ${_www_vendor}
  COMMAND ${CHAT_NPM} ci --prefix ${_www_vendor} --ignore-scripts --no-audit --no-fund --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${_www_vendor}/npm-ci.stamp
  DEPENDS ${_www_vendor_src}/package.json ${_www_vendor_src}/package-lock.json
  COMMENT "npm ci: Swagger UI ${SWAGGER_UI_VERSION} and ReDoc ${REDOC_VERSION} (docs/vendor/package-lock.json)"
  VERBATIM)

set(_swagger_src ${_www_vendor}/node_modules/swagger-ui-dist)
set(_redoc_src ${_www_vendor}/node_modules/redoc)
set(CHAT_WWW_SWAGGER_ASSETS assets/swagger-ui-${SWAGGER_UI_VERSION})
set(CHAT_WWW_REDOC_ASSETS assets/redoc-${REDOC_VERSION})
set(_swagger_files index.css swagger-ui.css swagger-ui-bundle.js favicon-32x32.png LICENSE NOTICE)
set(_redoc_files bundles/redoc.standalone.js.LICENSE.txt LICENSE)   # and redoc.standalone.js, below
# ReDoc 2's menu footer loads Redocly's logo from their CDN, whatever the options say: a request to another host
# from every page view, and a CSP violation. The address becomes an empty data: URL, which fails to load as an
# image, and the bundle's own onError then leaves the logo out (as it does when the CDN is unreachable).
set(_redoc_logo https://cdn.redoc.ly/redoc/logo-mini.svg)

set(_www_assets)
set(_www_copy)
foreach(f IN LISTS _swagger_files)
  list(APPEND _www_assets ${CHAT_WWW_DIR}/${CHAT_WWW_SWAGGER_ASSETS}/${f})
  list(APPEND _www_copy ${_swagger_src}/${f})
endforeach()
list(APPEND _www_copy ${CHAT_WWW_DIR}/${CHAT_WWW_SWAGGER_ASSETS})
set(_www_copy_redoc)
foreach(f IN LISTS _redoc_files)
  get_filename_component(name ${f} NAME)
  list(APPEND _www_assets ${CHAT_WWW_DIR}/${CHAT_WWW_REDOC_ASSETS}/${name})
  list(APPEND _www_copy_redoc ${_redoc_src}/${f})
endforeach()
list(APPEND _www_copy_redoc ${CHAT_WWW_DIR}/${CHAT_WWW_REDOC_ASSETS})
list(APPEND _www_assets ${CHAT_WWW_DIR}/${CHAT_WWW_REDOC_ASSETS}/redoc.standalone.js)

# assets/ is laid anew each time, so an older version's directory never lingers (nor gets installed).
add_custom_command(
  OUTPUT ${_www_assets}
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${CHAT_WWW_DIR}/assets
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CHAT_WWW_DIR}/${CHAT_WWW_SWAGGER_ASSETS}
                                             ${CHAT_WWW_DIR}/${CHAT_WWW_REDOC_ASSETS}
  COMMAND ${CMAKE_COMMAND} -E copy ${_www_copy}
  COMMAND ${CMAKE_COMMAND} -E copy ${_www_copy_redoc}
  COMMAND ${CMAKE_COMMAND} -DIN=${_redoc_src}/bundles/redoc.standalone.js
          -DOUT=${CHAT_WWW_DIR}/${CHAT_WWW_REDOC_ASSETS}/redoc.standalone.js -DFROM=${_redoc_logo} -DTO=data:,
          -P ${CMAKE_CURRENT_LIST_DIR}/www_replace.cmake
  DEPENDS ${_www_vendor}/npm-ci.stamp ${CMAKE_CURRENT_LIST_DIR}/www_replace.cmake
  COMMENT "www/assets: Swagger UI and ReDoc files of the pages"
  VERBATIM)

# The pages and the document: copied at configure time, which CMake repeats when one of them changes.
configure_file(${CMAKE_SOURCE_DIR}/docs/swagger.html.in ${CHAT_WWW_DIR}/swagger.html @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/docs/redoc.html.in ${CHAT_WWW_DIR}/redoc.html @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/docs/swagger-init.js ${CHAT_WWW_DIR}/swagger-init.js COPYONLY)
configure_file(${CMAKE_SOURCE_DIR}/docs/openapi.json ${CHAT_WWW_DIR}/openapi.json COPYONLY)

add_custom_target(chat_www ALL DEPENDS ${_www_assets})
add_dependencies(chat_programs chat_www)   # make run builds only chat_programs, and its stack serves the docs

install(DIRECTORY ${CMAKE_BINARY_DIR}/www/ DESTINATION ${CMAKE_INSTALL_DATADIR}/chat/www)
