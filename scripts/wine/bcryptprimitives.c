/* Test-only stand-in for Windows' bcryptprimitives.dll, for running qs-jwt.exe under Wine.
 *
 * Rust's standard library (1.78 and later) gets its random bytes from ProcessPrng in
 * bcryptprimitives.dll, which Wine 8 (Debian 12) does not have, so every Rust program fails to
 * start there. This DLL exports ProcessPrng and forwards it to RtlGenRandom (advapi32's
 * SystemFunction036), which Wine implements over the host's random source. Built from this
 * source by scripts/windows-smoke.sh with mingw-w64; never shipped, never committed as a binary.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng is documented to always return TRUE; here a failure of RtlGenRandom is passed on
 * rather than handing back bytes that are not random. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
