import java.io.File
import javax.inject.Inject
import org.gradle.api.DefaultTask
import org.gradle.api.logging.LogLevel
import org.gradle.api.provider.Property
import org.gradle.api.tasks.Input
import org.gradle.api.tasks.TaskAction
import org.gradle.process.ExecOperations

/**
 * Builds `libsoftoken_app.so` for one Android target. The Tauri CLI does the work
 * (`android-studio-script` cross-compiles with the NDK and copies the library into jniLibs), so
 * this task only says which target and profile, from the Rust crate's directory.
 *
 * The CLI is the repository's own entry point, `scripts/tauri.sh`, not `cargo tauri`: it runs
 * the CLI pinned in scripts/tauri-cli/package-lock.json, so Gradle's nested call is the very
 * version that started Gradle, and nothing has to be installed on PATH (docs/RELEASE.md, "The
 * nested CLI calls"). It needs bash and Node.js, which every job that builds the app sets up.
 */
abstract class BuildTask : DefaultTask() {
    /** The app module's directory, read while Gradle configures (not from `project` later). */
    @get:Input abstract val appDir: Property<String>
    /** The Rust crate (src-tauri), as a path from the app module. */
    @get:Input abstract val rootDirRel: Property<String>
    /** A Tauri Android target name: aarch64, armv7, i686 or x86_64. */
    @get:Input abstract val target: Property<String>
    @get:Input abstract val release: Property<Boolean>

    @get:Inject abstract val execOperations: ExecOperations

    @TaskAction
    fun build() {
        val crateDir = File(appDir.get(), rootDirRel.get())
        val tauriScript = File(crateDir, "../scripts/tauri.sh")
        execOperations.exec {
            workingDir(crateDir)
            executable("bash")
            args(tauriScript.path, "android", "android-studio-script")
            when {
                logger.isEnabled(LogLevel.DEBUG) -> args("-vv")
                logger.isEnabled(LogLevel.INFO) -> args("-v")
            }
            if (release.get()) {
                args("--release")
            }
            args("--target", target.get())
        }.assertNormalExitValue()
    }
}
