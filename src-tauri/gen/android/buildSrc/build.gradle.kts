// The "rust" Gradle plugin (RustPlugin.kt): builds the Rust library for each Android ABI by
// asking the Tauri CLI, so Gradle and cargo agree on targets and profiles.
plugins {
    `kotlin-dsl`
}

gradlePlugin {
    plugins {
        create("rust") {
            id = "rust"
            implementationClass = "RustPlugin"
        }
    }
}

repositories {
    google()
    mavenCentral()
}

dependencies {
    compileOnly(gradleApi())
    implementation("com.android.tools.build:gradle:9.3.1")
}
