// Build tools for the whole project; the app itself is configured in app/build.gradle.kts.
// The versions are those the pinned Tauri CLI (2.12.5) writes into a new Android project: AGP 9
// with its built-in Kotlin turned off (gradle.properties) and Kotlin 2.2, which reads the Kotlin
// metadata of the AndroidX libraries tauri-build adds (lifecycle-process 2.10, activity-ktx,
// webkit). buildSrc/build.gradle.kts must name the same AGP.
buildscript {
    repositories {
        google()
        mavenCentral()
    }
    dependencies {
        classpath("com.android.tools.build:gradle:9.3.1")
        classpath("org.jetbrains.kotlin:kotlin-gradle-plugin:2.2.10")
    }
}

allprojects {
    repositories {
        google()
        mavenCentral()
    }
}

tasks.register("clean").configure {
    delete("build")
}
