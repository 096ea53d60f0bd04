#include "bindings/bindings.h"
#include "native.h"

int main(int argc, char *argv[]) {
    // Both before Rust starts: the directory is excluded before the vault is first written
    // into it, and the cover listens before the app can first resign active.
    softtoken_exclude_data_from_backup();
    softtoken_install_privacy_shield();
    ffi::start_app();
    return 0;
}
