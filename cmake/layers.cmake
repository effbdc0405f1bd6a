# The layers of the code, checked on every configure (and by the CTest `layers`, which runs this file with
# `cmake -P`): core/ includes nothing of ours but core/; domain/ includes core/ and domain/; each program
# (handlers/, realtime/, worker/, sql/) includes core/, domain/ and itself, never another program. And no
# program library links another program's library (so the linker cannot be used to reach past a layer).
# Why: the programs share code only through the libraries below them; a shortcut between two programs is
# how one program's change starts breaking another.

cmake_minimum_required(VERSION 3.25)  # script mode (cmake -P) needs the policies too
set(CHAT_PROGRAM_DIRS handlers realtime worker sql)

# Violations of the include rule in the sources under `root`, one line each ("file: #include ...").
function(chat_include_violations root out_var)
  set(found "")
  set(all_dirs core domain ${CHAT_PROGRAM_DIRS})
  foreach(dir ${all_dirs})
    if(dir STREQUAL "core")
      set(allowed core)
    elseif(dir STREQUAL "domain")
      set(allowed core domain)
    else()
      set(allowed core domain ${dir})
    endif()
    file(GLOB_RECURSE sources ${root}/${dir}/*.cpp ${root}/${dir}/*.hpp ${root}/${dir}/*.in)
    foreach(src ${sources})
      file(STRINGS ${src} includes REGEX "^[ \t]*#[ \t]*include[ \t]+\"[a-z_]+/")
      foreach(line ${includes})
        string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([a-z_]+)/.*" "\\1" top "${line}")
        if(NOT top IN_LIST allowed)
          file(RELATIVE_PATH rel ${root} ${src})
          list(APPEND found "${rel}: ${line}")
        endif()
      endforeach()
    endforeach()
  endforeach()
  set(${out_var} "${found}" PARENT_SCOPE)
endfunction()

# Targets of one program directory that link a library defined in another program directory.
function(chat_link_violations out_var)
  set(found "")
  foreach(dir ${CHAT_PROGRAM_DIRS})
    if(EXISTS ${CMAKE_SOURCE_DIR}/${dir}/CMakeLists.txt)
      get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR}/${dir} PROPERTY BUILDSYSTEM_TARGETS)
      foreach(t ${targets})
        set(owner_${t} ${dir})
      endforeach()
      set(targets_${dir} ${targets})
    endif()
  endforeach()
  foreach(dir ${CHAT_PROGRAM_DIRS})
    foreach(t ${targets_${dir}})
      get_target_property(links ${t} LINK_LIBRARIES)
      foreach(lib ${links})
        if(DEFINED owner_${lib} AND NOT owner_${lib} STREQUAL dir)
          list(APPEND found "${t} (${dir}/) links ${lib} (${owner_${lib}}/)")
        endif()
      endforeach()
    endforeach()
  endforeach()
  set(${out_var} "${found}" PARENT_SCOPE)
endfunction()

# Both rules at configure time: a violation stops the build.
function(chat_check_layers)
  chat_include_violations(${CMAKE_SOURCE_DIR} bad_includes)
  chat_link_violations(bad_links)
  set(bad ${bad_includes} ${bad_links})
  if(bad)
    list(JOIN bad "\n  " text)
    message(FATAL_ERROR "the layers are crossed (see cmake/layers.cmake):\n  ${text}")
  endif()
endfunction()

# Script mode (the CTest): only the include rule can be checked without the targets.
if(CMAKE_SCRIPT_MODE_FILE)
  chat_include_violations(${CHAT_SOURCE_DIR} bad)
  if(bad)
    list(JOIN bad "\n  " text)
    message(FATAL_ERROR "includes across layers:\n  ${text}")
  endif()
  message(STATUS "layers: no include crosses a layer")
endif()
