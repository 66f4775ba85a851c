// backwatch DIY IMU: streams accelerometer and gyroscope samples in backwatch's batched frame.
//
// Boards:
//   - Arduino Nano 33 BLE / Nano 33 BLE Sense (rev 1, LSM9DS1): library Arduino_LSM9DS1
//   - Arduino Nano 33 BLE rev 2 (BMI270): library Arduino_BMI270_BMM150 (define NANO33_REV2)
//   - ESP32 with an MPU-6050 on I2C (SDA 21, SCL 22): library Adafruit MPU6050
// Bluetooth: library ArduinoBLE (nRF52840 and ESP32).
//
// GATT profile (see docs/sensors.md, "DIY frame format"):
//   service 6313b000-81a8-48ed-ba2c-340c6a73dc20
//   data    6313b001-...  notify  u16 seq, u32 t_ms, N x int16[6] (ax ay az gx gy gz), LE
//   config  6313b002-...  read    u8 version=1, u8 flags (bit0 gyro), u16 samples/frame,
//                                  f32 rate_hz, f32 g per LSB, f32 deg/s per LSB
//   battery 180F / 2A19   read    percent (fixed here; wire a divider to measure it)
//
// t_ms is millis() at the first sample of the frame; samples follow at rate_hz.
// seq counts frames (wrapping at 65536) so the host can count lost frames.
//
// SAMPLES_PER_FRAME x 12 + 6 bytes must fit the ATT MTU minus 3. BlueZ asks for a large
// MTU and ArduinoBLE accepts up to 247 bytes on these boards, so 10 samples (126 bytes) fit;
// use 1 for a central that stays at the default 23-byte MTU.

#include <ArduinoBLE.h>

#if defined(ARDUINO_ARCH_NRF52840) || defined(ARDUINO_ARDUINO_NANO33BLE)
  #if defined(NANO33_REV2)
    #include <Arduino_BMI270_BMM150.h>
  #else
    #include <Arduino_LSM9DS1.h>
  #endif
  #define BW_ARDUINO_IMU 1
#elif defined(ESP32)
  #include <Adafruit_MPU6050.h>
  #include <Wire.h>
  Adafruit_MPU6050 mpu;
  #define BW_ESP32_MPU6050 1
  const float ESP32_RATE_HZ = 100.0f;
#else
  #error "Unsupported board: use a Nano 33 BLE or an ESP32 with an MPU-6050"
#endif

const uint8_t PROFILE_VERSION = 1;
const uint8_t FLAG_GYRO = 0x01;
const uint16_t SAMPLES_PER_FRAME = 10;
const size_t HEADER_BYTES = 6;
const size_t RECORD_BYTES = 12;
const size_t FRAME_BYTES = HEADER_BYTES + SAMPLES_PER_FRAME * RECORD_BYTES;

// int16 scales: +/-4 g and +/-2000 deg/s full scale (the values the host multiplies by).
const float G_PER_LSB = 4.0f / 32768.0f;
const float DPS_PER_LSB = 2000.0f / 32768.0f;

BLEService imuService("6313b000-81a8-48ed-ba2c-340c6a73dc20");
BLECharacteristic dataChar("6313b001-81a8-48ed-ba2c-340c6a73dc20", BLENotify, FRAME_BYTES);
BLECharacteristic configChar("6313b002-81a8-48ed-ba2c-340c6a73dc20", BLERead, 16);
BLEService batteryService("180F");
BLEUnsignedCharCharacteristic batteryChar("2A19", BLERead | BLENotify);

uint8_t frame[FRAME_BYTES];
uint16_t seq = 0;
uint16_t filled = 0;
uint32_t firstSampleMs = 0;
float rateHz = 0.0f;

static void putU16(uint8_t *p, uint16_t v) { p[0] = v & 0xFF; p[1] = v >> 8; }
static void putU32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xFF;
}
static void putF32(uint8_t *p, float f) { uint32_t v; memcpy(&v, &f, 4); putU32(p, v); }
static int16_t quantise(float value, float perLsb) {
  float scaled = value / perLsb;
  if (scaled > 32767.0f) return 32767;
  if (scaled < -32768.0f) return -32768;
  return (int16_t)lroundf(scaled);
}

static bool readSample(float acc[3], float gyro[3]) {
#if defined(BW_ARDUINO_IMU)
  if (!IMU.accelerationAvailable() || !IMU.gyroscopeAvailable()) return false;
  IMU.readAcceleration(acc[0], acc[1], acc[2]);  // g
  IMU.readGyroscope(gyro[0], gyro[1], gyro[2]);  // deg/s
  return true;
#else
  static uint32_t nextUs = 0;
  uint32_t now = micros();
  if ((int32_t)(now - nextUs) < 0) return false;
  nextUs = now + (uint32_t)(1e6f / ESP32_RATE_HZ);
  sensors_event_t a, g, t;
  mpu.getEvent(&a, &g, &t);
  for (int i = 0; i < 3; i++) {
    acc[i] = (&a.acceleration.x)[i] / 9.80665f;  // m/s^2 -> g
    gyro[i] = (&g.gyro.x)[i] * 57.29578f;        // rad/s -> deg/s
  }
  return true;
#endif
}

void setup() {
  Serial.begin(115200);
#if defined(BW_ARDUINO_IMU)
  if (!IMU.begin()) { Serial.println("IMU failed"); while (true) {} }
  rateHz = IMU.accelerationSampleRate();
#else
  Wire.begin();
  if (!mpu.begin()) { Serial.println("MPU-6050 failed"); while (true) {} }
  mpu.setAccelerometerRange(MPU6050_RANGE_4_G);
  mpu.setGyroRange(MPU6050_RANGE_2000_DEG);
  mpu.setFilterBandwidth(MPU6050_BAND_44_HZ);
  rateHz = ESP32_RATE_HZ;
#endif
  if (!BLE.begin()) { Serial.println("BLE failed"); while (true) {} }
  BLE.setLocalName("backwatch-imu");
  BLE.setDeviceName("backwatch-imu");
  BLE.setAdvertisedService(imuService);

  uint8_t config[16];
  config[0] = PROFILE_VERSION;
  config[1] = FLAG_GYRO;
  putU16(config + 2, SAMPLES_PER_FRAME);
  putF32(config + 4, rateHz);
  putF32(config + 8, G_PER_LSB);
  putF32(config + 12, DPS_PER_LSB);
  configChar.writeValue(config, sizeof(config));

  imuService.addCharacteristic(dataChar);
  imuService.addCharacteristic(configChar);
  BLE.addService(imuService);
  batteryService.addCharacteristic(batteryChar);
  BLE.addService(batteryService);
  batteryChar.writeValue(100);
  BLE.advertise();
}

void loop() {
  BLEDevice central = BLE.central();
  if (!central) return;
  filled = 0;
  while (central.connected()) {
    float acc[3], gyro[3];
    if (!readSample(acc, gyro)) { BLE.poll(); continue; }
    if (filled == 0) firstSampleMs = millis();
    uint8_t *record = frame + HEADER_BYTES + filled * RECORD_BYTES;
    for (int i = 0; i < 3; i++) {
      int16_t a = quantise(acc[i], G_PER_LSB);
      int16_t g = quantise(gyro[i], DPS_PER_LSB);
      putU16(record + 2 * i, (uint16_t)a);
      putU16(record + 6 + 2 * i, (uint16_t)g);
    }
    if (++filled == SAMPLES_PER_FRAME) {
      putU16(frame, seq);
      putU32(frame + 2, firstSampleMs);
      if (dataChar.subscribed()) dataChar.writeValue(frame, FRAME_BYTES);
      seq++;  // counts every frame built, sent or not, so the host sees what it missed
      filled = 0;
    }
  }
  BLE.advertise();
}
