# cmake -DIN=FILE -DOUT=FILE -DFROM=TEXT -DTO=TEXT -P cmake/www_replace.cmake
# Copies IN to OUT with every FROM replaced by TO (cmake/www.cmake, for an address a vendored bundle would load
# from another origin). IN without FROM is an error: a new version of the bundle must be looked at again, not
# copied with the address maybe moved elsewhere.
file(READ "${IN}" text)
string(FIND "${text}" "${FROM}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${IN} no longer contains ${FROM}: check what this version loads from other origins")
endif()
string(REPLACE "${FROM}" "${TO}" text "${text}")
file(WRITE "${OUT}" "${text}")
