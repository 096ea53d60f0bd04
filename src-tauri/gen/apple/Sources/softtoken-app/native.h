#pragma once

// What the app needs from iOS before Rust starts, written in Swift (exported with @_cdecl, so
// Objective-C++ calls them as plain C functions without a generated Swift header).
extern "C" {
    // BackupExclusion.swift: the app's data directory, where the vault lives, is out of backups.
    void softtoken_exclude_data_from_backup(void);
    // PrivacyShield.swift: a cover over the app in the app switcher and while the screen is
    // recorded or mirrored.
    void softtoken_install_privacy_shield(void);
}
