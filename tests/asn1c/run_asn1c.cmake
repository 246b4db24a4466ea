# Runs asn1c on the specification modules (cmake -P; called at build time by CMakeLists.txt).
#
#   -DASN1C=<asn1c> -DOUT_DIR=<dir> -DMODULES=<a.asn|b.asn|...> -DFLAGS=<f1|f2|...>
#   [-DRULES_HEADER=<file.h>] [-DSTAMP=<file>]
#
# OUT_DIR is wiped first, so a module change never leaves stale generated files behind.
# asn1c's chatter ("Compiled X.c", "Copied ...") is shown only when it fails.
# RULES_HEADER receives two DER rules that a decode/re-encode round trip through asn1c 0.9.28
# cannot see, extracted from the modules, so the driver checks them itself:
#  - BIT STRING types and components with a named-bit list (X.680 22.7): DER drops their
#    trailing zero bits (X.690 11.2.2); asn1c re-encodes whatever bits it was given.
#  - components with a DEFAULT: DER never encodes the default value (X.690 11.5); asn1c
#    0.9.28 re-encodes a present component even if it equals its DEFAULT.
foreach(v ASN1C OUT_DIR MODULES FLAGS)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_asn1c.cmake: -D${v}=... is required")
  endif()
endforeach()
string(REPLACE "|" ";" modules "${MODULES}")
string(REPLACE "|" ";" flags "${FLAGS}")

file(REMOVE_RECURSE "${OUT_DIR}" "${OUT_DIR}-modules")
file(MAKE_DIRECTORY "${OUT_DIR}" "${OUT_DIR}-modules")

# Work-around for an asn1c 0.9.28 bug: it cannot handle a tag on the element type of a
# SEQUENCE OF / SET OF ("SEQUENCE OF [7] OCTET STRING": the BoundProfilePackage 87/88/86
# lists). Its SET_OF decoder checks the element's tag (87) and then decodes the element as a
# plain OCTET STRING expecting 04; the encoder writes 04. (The tag is also marked EXPLICIT
# although the module's AUTOMATIC TAGS make it IMPLICIT.) The modules are compiled from a copy
# in which each such element type becomes a type assignment of its own,
#     SEQUENCE OF [7] OCTET STRING  ->  SEQUENCE OF Asn1cTaggedRSPDefinitions1
#     Asn1cTaggedRSPDefinitions1 ::= [7] OCTET STRING       (appended before END)
# which has the same abstract syntax, tagging (module default applies) and encoding, and
# which asn1c handles: a named type's decoder applies its own tags.
set(patched_modules "")
foreach(m IN LISTS modules)
  file(READ "${m}" rest)
  get_filename_component(base "${m}" NAME)
  get_filename_component(stem "${m}" NAME_WE)
  string(REGEX REPLACE "[^A-Za-z0-9]" "" stem "${stem}")
  set(out "")
  set(extra "")
  set(n 0)
  while(rest MATCHES "([ \t\r\n]OF[ \t\r\n]*)(\\[[^]]*\\])[ \t\r\n]*([A-Z][A-Za-z0-9-]*)([ \t]+(STRING|IDENTIFIER))?")
    set(whole "${CMAKE_MATCH_0}")
    set(of "${CMAKE_MATCH_1}")
    set(tag "${CMAKE_MATCH_2}")
    set(type "${CMAKE_MATCH_3}${CMAKE_MATCH_4}")
    set(word "${CMAKE_MATCH_3}")
    string(FIND "${rest}" "${whole}" pos)
    string(LENGTH "${whole}" wlen)
    string(SUBSTRING "${rest}" 0 ${pos} before)
    math(EXPR next "${pos} + ${wlen}")
    string(SUBSTRING "${rest}" ${next} -1 rest)
    if(word MATCHES "^(SEQUENCE|SET|CHOICE)$")
      # An inline constructed element type cannot be moved out by this simple rewrite.
      message(WARNING "run_asn1c.cmake: ${base}: tagged inline ${word} element left as is (asn1c 0.9.28 mishandles it)")
      string(APPEND out "${before}${whole}")
    else()
      math(EXPR n "${n} + 1")
      set(name "Asn1cTagged${stem}${n}")
      string(APPEND out "${before}${of}${name}")
      string(APPEND extra "${name} ::= ${tag} ${type}\n")
    endif()
  endwhile()
  string(APPEND out "${rest}")
  if(n GREATER 0)
    string(FIND "${out}" "END" end_pos REVERSE)
    if(end_pos LESS 0)
      message(FATAL_ERROR "run_asn1c.cmake: ${base}: no END")
    endif()
    string(SUBSTRING "${out}" 0 ${end_pos} head)
    string(SUBSTRING "${out}" ${end_pos} -1 tail)
    set(out "${head}-- Added by tests/asn1c/run_asn1c.cmake (asn1c 0.9.28 work-around)\n${extra}${tail}")
  endif()
  file(WRITE "${OUT_DIR}-modules/${base}" "${out}")
  list(APPEND patched_modules "${OUT_DIR}-modules/${base}")
endforeach()

execute_process(COMMAND "${ASN1C}" ${flags} ${patched_modules}
                WORKING_DIRECTORY "${OUT_DIR}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "asn1c failed (exit ${rc}):\n${ASN1C} ${flags} ${patched_modules}\n${out}\n${err}")
endif()
if(NOT EXISTS "${OUT_DIR}/pdu_collection.c")
  message(FATAL_ERROR "asn1c produced no pdu_collection.c (is -pdu=all among the flags?)\n${err}")
endif()
# The sample converter has its own main(); it is not part of the codec.
file(REMOVE "${OUT_DIR}/converter-sample.c" "${OUT_DIR}/Makefile.am.sample")

if(DEFINED RULES_HEADER)
  # 1. BIT STRING types / components with a named-bit list.
  # 2. Components with a DEFAULT value: DER never encodes a component equal to its DEFAULT
  #    (X.690 11.5); the asn1c 0.9.28 encoder does not know most DEFAULTs (-fwide-types).
  set(types "")
  set(members "")
  set(defaults "")
  set(skipped "")
  set(all_text "")
  foreach(m IN LISTS modules)
    file(READ "${m}" t)
    string(APPEND all_text "${t}\n")
  endforeach()
  foreach(m IN LISTS modules)
    file(STRINGS "${m}" lines)
    set(current "")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "--.*" "" line "${line}")
      if(line MATCHES "^([A-Za-z][A-Za-z0-9-]*)[ \t]*::=")
        set(current "${CMAKE_MATCH_1}")
      endif()
      if(line MATCHES "^[ \t]*([A-Za-z][A-Za-z0-9-]*)[ \t]*::=[ \t]*(\\[[^]]*\\][ \t]*)?BIT STRING[ \t]*{")
        list(APPEND types "${CMAKE_MATCH_1}")
      elseif(line MATCHES "^[ \t]*([a-z][A-Za-z0-9-]*)[ \t]*(\\[[^]]*\\][ \t]*)?BIT STRING[ \t]*{")
        list(APPEND members "${CMAKE_MATCH_1}")
      endif()
      if(line MATCHES "^[ \t]*([a-z][A-Za-z0-9-]*)[ \t]*(\\[[^]]*\\])?[ \t]*([A-Za-z][A-Za-z0-9-]*).*DEFAULT[ \t]+([^ \t,}]+)")
        set(member "${CMAKE_MATCH_1}")
        set(mtype "${CMAKE_MATCH_3}")
        set(value "${CMAKE_MATCH_4}")
        set(entry "")
        if(value STREQUAL "TRUE")
          set(entry "'B', 1, 0")
        elseif(value STREQUAL "FALSE")
          set(entry "'B', 0, 0")
        elseif(value MATCHES "^-?[0-9]+$")
          set(entry "'I', ${value}, 0")
        elseif(value MATCHES "^'([0-9A-Fa-f]*)'H$")
          set(entry "'O', 0, \"${CMAKE_MATCH_1}\"")
        elseif(value MATCHES "^[a-z][A-Za-z0-9-]*$")
          # A named number of the component's INTEGER type.
          if(all_text MATCHES "[\r\n]${mtype}[ \t\r\n]*::=[ \t\r\n]*INTEGER[ \t\r\n]*{([^}]*)}")
            if(CMAKE_MATCH_1 MATCHES "(^|[^A-Za-z0-9-])${value}[ \t]*\\([ \t]*(-?[0-9]+)[ \t]*\\)")
              set(entry "'I', ${CMAKE_MATCH_2}, 0")
            endif()
          endif()
        endif()
        if(entry STREQUAL "")
          list(APPEND skipped "${current}.${member} DEFAULT ${value}")
        else()
          list(APPEND defaults "    {\"${current}\", \"${member}\", ${entry}},\n")
        endif()
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES types)
  list(REMOVE_DUPLICATES members)
  set(h "/* Generated by tests/asn1c/run_asn1c.cmake from the ASN.1 modules. Do not edit. */\n")
  string(APPEND h "static const char *const named_bit_types[] = {\n")
  foreach(t IN LISTS types)
    string(APPEND h "    \"${t}\",\n")
  endforeach()
  string(APPEND h "    0};\nstatic const char *const named_bit_members[] = {\n")
  foreach(t IN LISTS members)
    string(APPEND h "    \"${t}\",\n")
  endforeach()
  string(APPEND h "    0};\n/* DEFAULT values not checked (not a simple value):\n")
  foreach(t IN LISTS skipped)
    string(APPEND h " *   ${t}\n")
  endforeach()
  string(APPEND h " */\nstruct der_default {\n    const char *parent, *member;\n    char kind; /* B BOOLEAN, I INTEGER, O OCTET STRING (hex) */\n")
  string(APPEND h "    long ival;\n    const char *hex;\n};\nstatic const struct der_default der_defaults[] = {\n")
  foreach(t IN LISTS defaults)
    string(APPEND h "${t}")
  endforeach()
  string(APPEND h "    {0, 0, 0, 0, 0}};\n")
  file(WRITE "${RULES_HEADER}" "${h}")
endif()

if(DEFINED STAMP)
  file(TOUCH "${STAMP}")
endif()
