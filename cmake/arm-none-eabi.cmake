# CMake toolchain file: Cortex-M4 (Thumb-2) with Debian's gcc-arm-none-eabi and newlib-nano
# (scripts/bootstrap --footprint). Used by bench/footprint to build the portable IPA core
# (lib/ipa, lib/asn1, lib/core) for a microcontroller:
#
#   cmake -S bench/footprint -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake
#
# Sections per function and per object plus --gc-sections: only what the firmware reaches is
# linked (most of the generated ASN.1 descriptors of lib/asn1/asn1_types.c are not).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar)
set(CMAKE_RANLIB arm-none-eabi-ranlib)
set(CMAKE_SIZE arm-none-eabi-size CACHE FILEPATH "arm-none-eabi-size")

# No test executables can run here: try_compile builds a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# SGP32_ARM_QEMU=ON: the same code for a Cortex-A7 in Thumb-2 (same AAPCS: same type sizes and
# layouts) with semihosting instead of nosys, so qemu-arm (Debian qemu-user, which has no
# M-profile user mode) can run it and print what it measured.
option(SGP32_ARM_QEMU "Build for qemu-arm (Cortex-A7 Thumb-2, semihosting) instead of the Cortex-M4" OFF)
if(SGP32_ARM_QEMU)
  set(SGP32_MCU_FLAGS "-mcpu=cortex-a7 -mthumb -mfloat-abi=soft")
  set(SGP32_MCU_SPECS "--specs=nano.specs --specs=rdimon.specs")
else()
  set(SGP32_MCU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft")
  set(SGP32_MCU_SPECS "--specs=nano.specs --specs=nosys.specs")
endif()
set(CMAKE_C_FLAGS_INIT "${SGP32_MCU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_RELEASE_INIT "-Os")
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${SGP32_MCU_FLAGS} ${SGP32_MCU_SPECS} -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
