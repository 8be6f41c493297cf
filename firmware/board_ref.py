"""Reference board (hardware/boards/myostride-ref-s3.json): the only module besides
drivers/ that touches `machine`. Pin numbers and buses come from board.json."""

import time

import machine
from myowire.codec import S_AFE, S_CLOCK, S_IMU, S_STORAGE

from board import Board
from drivers.ads1292r import ADS1292R
from drivers.lsm6dso import LSM6DSO


class RefBoard(Board):
    name = "ref"
    ticks_bits = 30
    keeps_clock = True  # the converter's sample clock (now_us below)

    def __init__(self, spec):
        self.spec = spec
        e = spec["emg"]
        s = e["spi"]
        self.fs_dir = spec.get("fs_dir", "")
        self.default_node_id = spec.get("default_node_id", 1)
        self.emg_rates = tuple(e["rates_hz"])
        self.default_emg_hz = 2000 if 2000 in self.emg_rates else self.emg_rates[0]
        spi = machine.SPI(
            s["id"], baudrate=s["baudrate"], polarity=s["polarity"], phase=s["phase"],
            sck=machine.Pin(s["sck"]), mosi=machine.Pin(s["mosi"]), miso=machine.Pin(s["miso"]),
        )
        cs = machine.Pin(e["cs"], machine.Pin.OUT, value=1)
        start = machine.Pin(e["start"], machine.Pin.OUT, value=0) if e.get("start") is not None else None
        reset = machine.Pin(e["reset"], machine.Pin.OUT, value=1) if e.get("reset") is not None else None
        self._drdy = machine.Pin(e["drdy"], machine.Pin.IN)
        self._drdy_hard = bool(e.get("drdy_hard_irq", False))
        self.afe = ADS1292R(spi, cs, self._drdy, start, reset, e.get("gain", 6), e.get("vref_mv", 2420), e.get("shift_bits", 4))
        self.nv_per_lsb = self.afe.nv_per_lsb()
        self.selftest = S_CLOCK
        self.imu = None
        self.imu_rates = ()
        self.default_imu_hz = 0
        im = spec.get("imu")
        if im:
            i = im["i2c"]
            bus = machine.I2C(i["id"], scl=machine.Pin(i["scl"]), sda=machine.Pin(i["sda"]), freq=i["freq"])
            self.imu = LSM6DSO(bus, im.get("address", 0x6A))
            self.imu_rates = tuple(im["rates_hz"])
            self.default_imu_hz = self.imu_rates[0]
        b = spec.get("battery")
        self._bat = None
        if b:
            self._bat = machine.ADC(machine.Pin(b["adc_pin"]))
            try:
                self._bat.atten(machine.ADC.ATTN_11DB)
            except AttributeError:
                pass
            self._bat_div = b.get("divider", 2.0)
        led = spec.get("led")
        self._led = machine.Pin(led["pin"], machine.Pin.OUT, value=0) if led else None
        self._led_on = 1 if not led or led.get("active_high", True) else 0
        fsw = spec.get("footswitch")
        self._foot_pins = []
        if fsw:
            for p in fsw["pins"]:
                self._foot_pins.append(machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP))
        self._foot_low = bool(fsw and fsw.get("active_low", True))
        self._foot_cb = None
        self._imu_ring = None
        self.identify_until_ms = 0
        self._imu_count = 0
        self._hz = 0
        self._k_epoch = 0
        self._j_epoch = 0
        self._epoch_us = 0
        self._epoch_ticks = time.ticks_us()
        self._last_us = 0
        self._check_storage()

    def _check_storage(self):
        import os

        try:
            os.stat(self.fs_dir or "/")
            self.selftest |= S_STORAGE
        except OSError:
            pass

    # ---- clock
    # The node clock is the converter's sample clock: sample k is at
    # epoch_us + (k - k_epoch) * 1e6 / emg_hz, and between conversions the MCU's ticks_us
    # interpolates (its crystal's drift matters only within one sample period). So frame
    # timestamps and time-sync replies (t2, t3) are on one clock, as SPEC.md s.9 requires;
    # stamping sync replies from ticks_us alone would drift from the frames by the two
    # crystals' difference (50 ppm = 3 ms per minute).
    def ticks_us(self):
        return time.ticks_us()

    def now_us(self):
        a = self.afe
        k = a.samples
        t = a.drdy_ticks
        while k != a.samples:  # a conversion landed between the two reads
            k = a.samples
            t = a.drdy_ticks
        if k > self._k_epoch:
            us = self._epoch_us + (k - 1 - self._k_epoch) * 1000000 // self._hz + time.ticks_diff(time.ticks_us(), t)
        else:  # no conversion yet since (re)start: run on from the epoch on the MCU clock
            us = self._epoch_us + time.ticks_diff(time.ticks_us(), self._epoch_ticks)
        if us < self._last_us:  # the first conversion after a start arrives a little late
            us = self._last_us
        self._last_us = us
        return us

    def time_base(self):
        """(k_epoch, j_epoch, epoch_us): sample indices and node time at the latest start."""
        return self._k_epoch, self._j_epoch, self._epoch_us

    # ---- acquisition
    def start(self, emg_ring, imu_ring, imu_hz, foot_cb, emg_hz):
        """(Re)start conversions; sample indices continue, a new time epoch begins now, but not
        before the slot of the sample that would have come next: the last frame's span
        (t0 + count periods) is its own, so a quick restart must not date a sample inside it."""
        epoch = 0
        if self._hz:
            next_slot_us = self._epoch_us + (self.afe.samples - self._k_epoch) * 1000000 // self._hz
            epoch = max(self.now_us(), next_slot_us)
        if self.afe.sink is not None:
            self.afe.stop()
        if self.afe.init(emg_hz):
            self.selftest |= S_AFE
        self._drdy.irq(self.afe.on_drdy, machine.Pin.IRQ_FALLING, hard=self._drdy_hard)
        self.afe.start(emg_ring.put)  # the DRDY path: ring.put per sample
        self._imu_ring = imu_ring if imu_hz else None
        self._hz = emg_hz
        self._k_epoch = self.afe.samples
        self._j_epoch = self._imu_count
        self._epoch_us = epoch
        self._epoch_ticks = time.ticks_us()
        if self.imu is not None:
            if imu_hz:
                if self.imu.init(imu_hz):
                    self.selftest |= S_IMU
            else:
                self.imu.off()
        self._foot_cb = foot_cb
        for i, p in enumerate(self._foot_pins):
            p.irq(self._foot_irq(i), machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)

    def _foot_irq(self, index):
        def handler(pin):
            level = pin.value()
            if self._foot_low:
                level = 1 - level
            if self._foot_cb:
                self._foot_cb(self.afe.samples, index, level)

        return handler

    def poll(self):
        """Samples arrive by interrupt; the IMU is polled for data-ready here."""
        if self._imu_ring is not None and self.imu.ready():
            self._imu_ring.put_record(self.imu.read_into_record(), 0)
            self._imu_count += 1
        if self.identify_until_ms and self._led is not None:
            t = time.ticks_ms()
            if time.ticks_diff(self.identify_until_ms, t) > 0:
                self._led((t // 250) & 1 == self._led_on)
            else:
                self.identify_until_ms = 0
                self._led(not self._led_on)

    def emg_next(self):
        """Index k of the next EMG sample (conversions since the AFE started)."""
        return self.afe.samples

    def imu_next(self):
        return self._imu_count

    def lead_off(self, k0, k1):
        return self.afe.lead_off()

    # ---- housekeeping
    def battery_mv(self):
        if self._bat is None:
            return 0
        return int(self._bat.read_uv() * self._bat_div) // 1000

    def identify(self, seconds):
        self.identify_until_ms = time.ticks_add(time.ticks_ms(), seconds * 1000)

    def idle(self, node_ms):
        time.sleep_ms(2)

    def reset(self):
        machine.reset()
        return True
