import groovy.json.JsonSlurper
import java.util.Properties

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("rust")
}

// The version comes from one place, Cargo.toml's [workspace.package], which scripts/tauri.sh
// stages into the CLI's config: the CLI writes tauri.properties (versionName, versionCode derived
// from it) on every build, and
// the minimum Android version is read from bundle.android.minSdkVersion here.
val tauriProperties = Properties().apply {
    val file = file("tauri.properties")
    if (file.exists()) {
        file.inputStream().use { load(it) }
    }
}
val tauriConfig = JsonSlurper().parse(rootProject.file("../../../tauri.conf.json")) as Map<*, *>
val androidConfig = (tauriConfig["bundle"] as Map<*, *>)["android"] as Map<*, *>

android {
    namespace = "jp.softtoken.app"
    compileSdk = 36
    defaultConfig {
        applicationId = "jp.softtoken.app"
        minSdk = (androidConfig["minSdkVersion"] as Number).toInt()
        targetSdk = 36
        versionCode = tauriProperties.getProperty("tauri.android.versionCode", "1").toInt()
        versionName = tauriProperties.getProperty("tauri.android.versionName", "0.0.0")
        // Release builds speak HTTPS only; a debug build may reach a reference server on the LAN.
        manifestPlaceholders["usesCleartextTraffic"] = "false"
    }
    buildTypes {
        getByName("debug") {
            manifestPlaceholders["usesCleartextTraffic"] = "true"
            isDebuggable = true
            isJniDebuggable = true
            isMinifyEnabled = false
            packaging {
                for (abi in listOf("arm64-v8a", "armeabi-v7a", "x86", "x86_64")) {
                    jniLibs.keepDebugSymbols.add("*/$abi/*.so")
                }
            }
        }
        getByName("release") {
            isMinifyEnabled = true
            // proguard-tauri.pro (written by the CLI) keeps the classes Rust calls through JNI.
            proguardFiles(
                *fileTree(".") { include("**/*.pro") }
                    .plus(getDefaultProguardFile("proguard-android-optimize.txt"))
                    .toList().toTypedArray()
            )
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions {
        jvmTarget = "1.8"
    }
    buildFeatures {
        buildConfig = true
    }
}

rust {
    // From app/ up to the Rust crate, src-tauri.
    rootDirRel = "../../../"
}

dependencies {
    implementation("androidx.webkit:webkit:1.14.0")
    implementation("androidx.appcompat:appcompat:1.7.1")
    implementation("androidx.activity:activity-ktx:1.10.1")
    implementation("com.google.android.material:material:1.12.0")
}

// Written by the CLI: the Tauri Android library and any plugin's Android code.
apply(from = "tauri.build.gradle.kts")
