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
 */
abstract class BuildTask : DefaultTask() {
    /** The Rust crate (src-tauri), as a path from the app module. */
    @get:Input abstract val rootDirRel: Property<String>
    /** A Tauri Android target name: aarch64, armv7, i686 or x86_64. */
    @get:Input abstract val target: Property<String>
    @get:Input abstract val release: Property<Boolean>

    @get:Inject abstract val execOperations: ExecOperations

    @TaskAction
    fun build() {
        val crateDir = File(project.projectDir, rootDirRel.get())
        execOperations.exec {
            workingDir(crateDir)
            executable("cargo")
            args("tauri", "android", "android-studio-script")
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
