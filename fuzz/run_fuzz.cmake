# ctest driver for one libFuzzer target (fuzz/CMakeLists.txt): copy the committed seeds to a
# scratch directory (new inputs must not land in the repository), run the fuzzer there for
# FUZZ_SECONDS, fail with the reproducer's path when it finds something.
#   cmake -DFUZZER=... -DCORPUS=... -DWORK=... -DARTIFACTS=... [-DDICT=...] -DFUZZ_SECONDS=... -P run_fuzz.cmake
foreach(var FUZZER CORPUS WORK ARTIFACTS FUZZ_SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzz.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}" "${ARTIFACTS}")
file(GLOB seeds "${CORPUS}/*")
if(NOT seeds)
  message(FATAL_ERROR "run_fuzz.cmake: no seeds in ${CORPUS} (regenerate: cmake --build <dir> --target fuzz_seeds)")
endif()
file(COPY ${seeds} DESTINATION "${WORK}")

set(args -max_total_time=${FUZZ_SECONDS} -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
         -artifact_prefix=${ARTIFACTS}/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
execute_process(COMMAND "${FUZZER}" ${args} "${WORK}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found "${ARTIFACTS}/*")
  message(FATAL_ERROR "${FUZZER} failed (${rc}); reproducer(s): ${found}\n"
                      "replay one with: ${FUZZER} <file>")
endif()
