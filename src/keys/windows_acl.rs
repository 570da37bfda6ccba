//! Owner-only files on Windows, the counterpart of mode 0600 on Unix.
//!
//! A new file on Windows takes the access control list its folder passes on, which on a shared
//! server often lets every user read it. A private key (and a cookie jar) is instead created with
//! a protected DACL of its own: full access for the current user, SYSTEM and Administrators (what
//! OpenSSH for Windows expects of a private key), and nothing inherited from the folder. It is
//! given to `CreateFileW` itself, so the file never exists, even empty, with a wider list, and no
//! other user can hold a handle to it from before.
//!
//! The reverse, for the warning about a key file others can read: the DACL of an existing file,
//! and who besides those three may read it.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::{FromRawHandle, OwnedHandle};
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_SUCCESS, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HLOCAL,
    INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    GetTokenInformation, INHERIT_ONLY_ACE, IsWellKnownSid, LookupAccountSidW, PSECURITY_DESCRIPTOR,
    PSID, SECURITY_ATTRIBUTES, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER, TokenUser,
    WinBuiltinAdministratorsSid, WinCreatorOwnerRightsSid, WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CREATE_NEW, CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_READ_DATA, FILE_SHARE_DELETE,
    FILE_SHARE_READ, FILE_SHARE_WRITE, WRITE_DAC, WRITE_OWNER,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The ACE type of an access-allowed entry (winnt.h); windows-sys has it in a module of its
/// own that qs-jwt needs nothing else from.
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;

/// Rights that let someone read the file, or give themselves the right to.
const READ_OR_TAKE: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | WRITE_DAC | WRITE_OWNER;

/// Creates `path`, which must not exist, readable and writable by the current user, SYSTEM and
/// Administrators only. Opened for reading and writing, and shared as `std` shares a file, so
/// that the temporary file can be renamed into place while it is open.
pub fn create_owner_only(path: &Path) -> io::Result<File> {
    let user = CurrentUser::get()?;
    // D:P — a protected DACL: the folder's inheritable entries are not added to it. FA is all
    // access for a file; SY is SYSTEM, BA the Administrators group.
    let sddl = format!(
        "D:P(A;;FA;;;{})(A;;FA;;;SY)(A;;FA;;;BA)",
        user.sid_string()?
    );
    create_with(path, &sddl)
}

/// Creates `path`, which must not exist, with the DACL that `sddl` describes.
fn create_with(path: &Path, sddl: &str) -> io::Result<File> {
    let descriptor = SecurityDescriptor::from_sddl(sddl)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    let name = wide(path.as_os_str());
    // SAFETY: `name` is NUL-terminated and `attributes` and the descriptor it points to outlive
    // the call; the handle returned is checked before it is owned.
    let handle = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a valid handle that nothing else owns.
    Ok(unsafe { File::from_raw_handle(handle) })
}

/// The users and groups other than the current user, SYSTEM and Administrators that the DACL
/// of `path` allows to read it (or to change who may), by name (`BUILTIN\Users`, `Everyone`).
/// A file without a DACL is open to everyone. Deny entries are not weighed: a file that allows
/// and then denies someone is still named, which errs on the side of a warning.
pub fn others_who_can_read(path: &Path) -> io::Result<Vec<String>> {
    let user = CurrentUser::get()?;
    let name = wide(path.as_os_str());
    let mut dacl: *mut ACL = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: out-pointers to locals; the descriptor is freed by the guard below, and `dacl`
    // points into it.
    let status = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    let _descriptor = SecurityDescriptor(descriptor);
    if dacl.is_null() {
        return Ok(vec![
            "Everyone (the file has no access control list)".to_owned(),
        ]);
    }
    let mut others = Vec::new();
    // SAFETY: `dacl` is a valid ACL inside the descriptor; GetAce bounds each entry by the
    // ACL's count, and an ACCESS_ALLOWED_ACE's SID starts at its SidStart field.
    unsafe {
        for index in 0..u32::from((*dacl).AceCount) {
            let mut ace: *mut core::ffi::c_void = ptr::null_mut();
            if GetAce(dacl, index, &mut ace) == 0 {
                continue;
            }
            let header = &*(ace as *const ACE_HEADER);
            if header.AceType != ACCESS_ALLOWED_ACE_TYPE
                || u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0
            {
                continue;
            }
            let allowed = &*(ace as *const ACCESS_ALLOWED_ACE);
            if allowed.Mask & READ_OR_TAKE == 0 {
                continue;
            }
            let sid = (&raw const allowed.SidStart) as PSID;
            let trusted = EqualSid(sid, user.sid()) != 0
                || IsWellKnownSid(sid, WinLocalSystemSid) != 0
                || IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0
                || IsWellKnownSid(sid, WinCreatorOwnerRightsSid) != 0;
            if !trusted {
                let name = account_name(sid);
                if !others.contains(&name) {
                    others.push(name);
                }
            }
        }
    }
    Ok(others)
}

/// `DOMAIN\name` of the current user, for the `icacls` line that fixes a key file.
pub fn current_user_name() -> io::Result<String> {
    let user = CurrentUser::get()?;
    Ok(account_name(user.sid()))
}

/// The account a SID names, `DOMAIN\name`, or the SID itself (`S-1-5-...`) when the system
/// cannot name it.
fn account_name(sid: PSID) -> String {
    let mut name = [0u16; 256];
    let mut domain = [0u16; 256];
    let mut name_len = name.len() as u32;
    let mut domain_len = domain.len() as u32;
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: the lengths are those of the buffers, and the call writes within them.
    let found = unsafe {
        LookupAccountSidW(
            ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    } != 0;
    if !found {
        return sid_string(sid).unwrap_or_else(|_| "an unknown account".to_owned());
    }
    let name = String::from_utf16_lossy(&name[..name_len as usize]);
    let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
    if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    }
}

fn sid_string(sid: PSID) -> io::Result<String> {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: the string the call allocates is read up to its NUL and freed with LocalFree.
    unsafe {
        if ConvertSidToStringSidW(sid, &mut text) == 0 {
            return Err(io::Error::last_os_error());
        }
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let string = std::ffi::OsString::from_wide(std::slice::from_raw_parts(text, len));
        LocalFree(text as HLOCAL);
        Ok(string.to_string_lossy().into_owned())
    }
}

/// The user this process runs as: its token's TOKEN_USER, in a buffer aligned for the pointer
/// it holds.
struct CurrentUser {
    buffer: Vec<u64>,
}

impl CurrentUser {
    fn get() -> io::Result<Self> {
        let mut token = ptr::null_mut();
        // SAFETY: the pseudo-handle of this process; the token handle is owned at once.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a valid handle that nothing else owns; closed on drop.
        let token = unsafe { OwnedHandle::from_raw_handle(token) };
        let handle = std::os::windows::io::AsRawHandle::as_raw_handle(&token);
        let mut needed = 0u32;
        // SAFETY: a size query (no buffer), then a buffer of at least the size asked for.
        unsafe {
            if GetTokenInformation(handle, TokenUser, ptr::null_mut(), 0, &mut needed) == 0
                && io::Error::last_os_error().raw_os_error()
                    != Some(ERROR_INSUFFICIENT_BUFFER as i32)
            {
                return Err(io::Error::last_os_error());
            }
            let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
            if GetTokenInformation(
                handle,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                (buffer.len() * 8) as u32,
                &mut needed,
            ) == 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(Self { buffer })
        }
    }

    fn sid(&self) -> PSID {
        // SAFETY: the buffer holds a TOKEN_USER (see `get`), whose SID lives in the same buffer.
        unsafe { (*self.buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }

    fn sid_string(&self) -> io::Result<String> {
        sid_string(self.sid())
    }
}

/// A security descriptor allocated by the system, freed with LocalFree.
struct SecurityDescriptor(PSECURITY_DESCRIPTOR);

impl SecurityDescriptor {
    fn from_sddl(sddl: &str) -> io::Result<Self> {
        let text = wide(OsStr::new(sddl));
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: a NUL-terminated string; the descriptor allocated is owned by the result.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                text.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(descriptor))
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by the system with LocalAlloc, freed once.
            unsafe { LocalFree(self.0 as HLOCAL) };
        }
    }
}

/// A NUL-terminated UTF-16 copy of a name, for the wide Windows functions.
fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain(std::iter::once(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_new_file_is_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let mut file = create_owner_only(&path).unwrap();
        file.write_all(b"secret").unwrap();
        drop(file);
        let others = others_who_can_read(&path).unwrap();
        assert!(others.is_empty(), "{others:?}");
        let mut text = String::new();
        File::open(&path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "secret");
        let err = create_owner_only(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_file_everyone_may_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.pem");
        let me = CurrentUser::get().unwrap().sid_string().unwrap();
        // WD is Everyone, FR read access.
        drop(create_with(&path, &format!("D:P(A;;FA;;;{me})(A;;FR;;;WD)")).unwrap());
        let others = others_who_can_read(&path).unwrap();
        assert!(
            others.iter().any(|name| name.ends_with("Everyone")),
            "{others:?}"
        );
    }

    #[test]
    fn the_current_user_has_a_name() {
        assert!(!current_user_name().unwrap().is_empty());
    }
}
