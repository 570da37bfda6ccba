/* Test-only: prints the DACL of each file named on the command line in SDDL, one line each
 * ("D:P(A;;FA;;;S-1-5-21-...)..."), as icacls would show it. scripts/windows-smoke.sh builds it
 * with mingw-w64 and runs it under Wine, to read back the access control list qs-jwt.exe gives
 * a new private key. Exit 1 if a list cannot be read. */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>

int wmain(int argc, wchar_t **argv)
{
    int status = 0;
    for (int i = 1; i < argc; i++) {
        PSECURITY_DESCRIPTOR sd = NULL;
        PACL dacl = NULL;
        LPWSTR text = NULL;
        DWORD err = GetNamedSecurityInfoW(argv[i], SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                                          NULL, NULL, &dacl, NULL, &sd);
        if (err != ERROR_SUCCESS) {
            fwprintf(stderr, L"show-acl: %ls: error %lu\n", argv[i], err);
            status = 1;
            continue;
        }
        if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(
                sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, NULL)) {
            fwprintf(stderr, L"show-acl: %ls: cannot convert: %lu\n", argv[i], GetLastError());
            status = 1;
        } else {
            wprintf(L"%ls\n", text);
            LocalFree(text);
        }
        LocalFree(sd);
    }
    return status;
}
