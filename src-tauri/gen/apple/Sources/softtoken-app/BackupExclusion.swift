import Foundation

/// Keeps the vault out of iCloud Backup and of backups made by a computer (Finder, iTunes).
///
/// Tauri's app data directory on iOS is `Library/Application Support/<bundle identifier>` in the
/// app's container; the vault (`tokens.vault`) and its temporary files are written there. The
/// directory itself carries `isExcludedFromBackup` (NSURLIsExcludedFromBackupKey), which
/// excludes everything in it, so a vault replaced by an atomic rename stays excluded. The flag
/// is set on Application Support too, in case the data directory ever moves within it. It runs
/// on every launch, before Rust starts, because restoring a device can clear it and because the
/// directory must exist, flagged, before the first vault is written.
///
/// Failure is logged and the app starts anyway: the vault is encrypted with a key that stays in
/// this device's keychain (ThisDeviceOnly), so a copy in a backup cannot be opened elsewhere.
@_cdecl("softtoken_exclude_data_from_backup")
public func softtokenExcludeDataFromBackup() {
    let files = FileManager.default
    guard let support = files.urls(for: .applicationSupportDirectory, in: .userDomainMask).first,
          let identifier = Bundle.main.bundleIdentifier
    else {
        NSLog("softtoken: no Application Support directory to exclude from backup")
        return
    }
    for directory in [support, support.appendingPathComponent(identifier, isDirectory: true)] {
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            var values = URLResourceValues()
            values.isExcludedFromBackup = true
            var url = directory
            try url.setResourceValues(values)
        } catch {
            NSLog("softtoken: could not exclude %@ from backup: %@",
                  directory.lastPathComponent, error.localizedDescription)
        }
    }
}
