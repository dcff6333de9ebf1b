/* ProcessPrng, which Rust's standard library on Windows imports from
 * bcryptprimitives.dll, over RtlGenRandom (advapi32's SystemFunction036).
 * Debian 12's Wine 8.0 has no bcryptprimitives.dll (Wine 9 has), so the
 * wine test builds this with mingw-w64 and puts it beside the agent's .exe;
 * real Windows (8 and later) has its own. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n)) {
            return FALSE;
        }
        data += n;
        length -= n;
    }
    return TRUE;
}
