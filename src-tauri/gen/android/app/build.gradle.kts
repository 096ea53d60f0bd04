import groovy.json.JsonSlurper
import java.util.Properties
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

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

// Which build this is. A customer build is the release build type without -PsofttokenQa; the QA
// build (.github/scripts/build-android.sh qa, `--features qa` on the Rust side) passes
// ORG_GRADLE_PROJECT_softtokenQa=true; a debug build is the debug build type. QA and debug builds
// get their own application id, so they install beside the customer app and never share its data
// directory or its Keystore keys (Android keeps both per application id), and a network security
// config that allows plain HTTP to 10.0.2.2 alone, the emulator's address of its host computer.
val qaBuild = (findProperty("softtokenQa") as? String) == "true"
val debugSuffix = androidConfig["debugApplicationIdSuffix"] as String

android {
    namespace = "jp.softtoken.app"
    compileSdk = 37
    defaultConfig {
        applicationId = "jp.softtoken.app"
        minSdk = (androidConfig["minSdkVersion"] as Number).toInt()
        targetSdk = 37
        versionCode = tauriProperties.getProperty("tauri.android.versionCode", "1").toInt()
        versionName = tauriProperties.getProperty("tauri.android.versionName", "0.0.0")
        // The customer's network security config: no plain HTTP, the system's CAs only.
        manifestPlaceholders["networkSecurityConfig"] = "@xml/network_security_config"
    }
    buildTypes {
        getByName("debug") {
            applicationIdSuffix = debugSuffix
            manifestPlaceholders["networkSecurityConfig"] = "@xml/network_security_config_test_build"
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
            if (qaBuild) {
                applicationIdSuffix = ".qa"
                manifestPlaceholders["networkSecurityConfig"] = "@xml/network_security_config_test_build"
            }
            optimization {
                enable = true
            }
            // proguard-tauri.pro (written by the CLI) keeps the classes Rust calls through JNI.
            proguardFiles(
                *fileTree(".") {
                    include("**/*.pro")
                    exclude("build/**")
                }.files.toTypedArray()
            )
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    buildFeatures {
        buildConfig = true
    }
}

kotlin {
    compilerOptions {
        jvmTarget = JvmTarget.JVM_1_8
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
    implementation("androidx.lifecycle:lifecycle-process:2.10.0")
}

// Written by the CLI: the Tauri Android library and any plugin's Android code.
apply(from = file("tauri.build.gradle.kts"))
