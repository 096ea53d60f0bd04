import com.android.build.api.dsl.ApplicationExtension
import org.gradle.api.DefaultTask
import org.gradle.api.Plugin
import org.gradle.api.Project
import org.gradle.kotlin.dsl.configure

/** Where the Rust crate is; set in app/build.gradle.kts as `rust { rootDirRel = "..." }`. */
open class RustExtension {
    lateinit var rootDirRel: String
}

/**
 * One product flavour per ABI plus "universal" (all of them), and before Gradle merges a
 * flavour's native libraries, a [BuildTask] per Rust target of that flavour.
 *
 * `cargo tauri android build` passes `-PabiList=`, `-ParchList=` and `-PtargetList=` to build
 * only the targets asked for; Android Studio uses the defaults below (every target).
 */
class RustPlugin : Plugin<Project> {
    override fun apply(project: Project) = with(project) {
        val rust = extensions.create("rust", RustExtension::class.java)

        // The four Android targets Tauri supports, in the same order in each list.
        val allAbis = listOf("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
        val allArchs = listOf("arm64", "arm", "x86", "x86_64")
        val allTargets = listOf("aarch64", "armv7", "i686", "x86_64")
        fun listProperty(name: String, default: List<String>) =
            (findProperty(name) as? String)?.split(',') ?: default
        val abis = listProperty("abiList", allAbis)
        val archs = listProperty("archList", allArchs)
        val targets = listProperty("targetList", allTargets)

        extensions.configure<ApplicationExtension> {
            flavorDimensions.add("abi")
            productFlavors {
                create("universal") {
                    dimension = "abi"
                    ndk { abiFilters += abis }
                }
                allArchs.forEachIndexed { i, arch ->
                    create(arch) {
                        dimension = "abi"
                        ndk { abiFilters.add(allAbis[i]) }
                    }
                }
            }
        }

        afterEvaluate {
            for (profile in listOf("Debug", "Release")) {
                val universal = tasks.register("rustBuildUniversal$profile", DefaultTask::class.java) {
                    group = "rust"
                    description = "Builds the Rust library in ${profile.lowercase()} for every target"
                }
                tasks.named("mergeUniversal${profile}JniLibFolders") { dependsOn(universal) }

                targets.forEachIndexed { i, target ->
                    val arch = archs[i].replaceFirstChar { it.uppercase() }
                    val build = tasks.register("rustBuild$arch$profile", BuildTask::class.java) {
                        group = "rust"
                        description = "Builds the Rust library in ${profile.lowercase()} for $target"
                        appDir.set(projectDir.path)
                        rootDirRel.set(rust.rootDirRel)
                        this.target.set(target)
                        release.set(profile == "Release")
                    }
                    universal.configure { dependsOn(build) }
                    tasks.named("merge$arch${profile}JniLibFolders") { dependsOn(build) }
                }
            }
        }
    }
}
