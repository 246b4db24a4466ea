# Included from tests/unit/CMakeLists.txt (normal and ASan builds, any compiler): test_fuzz_seeds
# replays every committed seed in fuzz/corpus through its target's code and the codec oracle,
# compiled here as plain functions (no libFuzzer, no SGP32_FUZZ_LIBFUZZER). fuzz_apdu opens a software
# eUICC (sgp32_euicc) with the SGP.26 identities of SGP32_SPEC_DIR (defined by sgp32_add_unit_test).
file(GLOB SGP32_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
sgp32_add_unit_test(test_fuzz_seeds test_fuzz_seeds.c ${SGP32_FUZZ_SOURCES} LIBS sgp32_transport sgp32_euicc sgp32_crypto sgp32_asn1 sgp32_core)
target_include_directories(test_fuzz_seeds PRIVATE ${CMAKE_SOURCE_DIR}/fuzz)
target_link_libraries(test_fuzz_seeds PRIVATE sgp32_smdp_server) # fuzz_es9_json, fuzz_es2_json (lib/smdp)
find_package(OpenSSL 3 REQUIRED)
target_link_libraries(test_fuzz_seeds PRIVATE OpenSSL::Crypto) # fuzz_certificate's d2i_X509 oracle
target_link_libraries(test_fuzz_seeds PRIVATE sgp32_ipa) # fuzz_ipa_esipa, fuzz_ipa_apdu (lib/ipa; fuzz_ipa_common.c)
target_link_libraries(test_fuzz_seeds PRIVATE sgp32_eim_server) # fuzz_eim_operation (lib/eim)
target_link_libraries(test_fuzz_seeds PRIVATE sgp32_eim_server) # fuzz_eim_rest (lib/eim REST API)
target_link_libraries(test_fuzz_seeds PRIVATE sgp32_eim_server) # fuzz_eim_esipa (lib/eim ESipa server)
# fuzz_config: the config format (apps/common) with eimd's and smdpd's keys, and smdpd's profile_data files
# (apps/eimd/eimd_config.c, apps/smdpd/smdpd_config.c, apps/smdpd/smdpd_profile_data.c)
target_sources(test_fuzz_seeds PRIVATE ${CMAKE_SOURCE_DIR}/apps/eimd/eimd_config.c
                                       ${CMAKE_SOURCE_DIR}/apps/smdpd/smdpd_config.c
                                       ${CMAKE_SOURCE_DIR}/apps/smdpd/smdpd_profile_data.c)
target_include_directories(test_fuzz_seeds PRIVATE ${CMAKE_SOURCE_DIR}/apps/eimd ${CMAKE_SOURCE_DIR}/apps/smdpd)
target_link_libraries(test_fuzz_seeds PRIVATE sgp32_app_support)
