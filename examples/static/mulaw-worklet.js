// The audio-thread half of the browser streaming example: takes the microphone's
// samples at the AudioContext's rate (usually 48 kHz), downsamples them to 8 kHz,
// encodes G.711 μ-law and posts one frame of `frameMs` milliseconds (8 bytes per ms)
// at a time to the page, which sends it as an `audio.input` message.
//
// Served as is by the example's backend: no build step, no dependencies.

const TARGET_RATE = 8000;

// G.711 μ-law of one sample in [-1, 1]: the classic biased 14-bit segment encoding.
function encodeMulaw(sample) {
  const BIAS = 0x84;
  const CLIP = 32635;
  let value = Math.round(Math.max(-1, Math.min(1, sample)) * 32767);
  const sign = value < 0 ? 0x80 : 0;
  if (sign) value = -value;
  if (value > CLIP) value = CLIP;
  value += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

class MulawEncoder extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frameMs = options.processorOptions?.frameMs ?? 100;
    // `sampleRate` is the AudioContext's rate, a global of the worklet scope.
    this.step = sampleRate / TARGET_RATE;
    this.frameBytes = frameMs * (TARGET_RATE / 1000);
    this.frame = new Uint8Array(this.frameBytes);
    this.filled = 0;
    // Each output sample is the mean of the input samples since the previous one: a box
    // filter that removes most of what would alias above 4 kHz, cheap enough for the
    // audio thread. (A production page could use a windowed-sinc low-pass instead.)
    this.sum = 0;
    this.count = 0;
    this.phase = 0;
  }

  process(inputs) {
    // The first channel of the first input: the microphone is captured mono.
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count++;
      this.phase += 1;
      if (this.phase < this.step) continue;
      this.phase -= this.step;
      this.frame[this.filled++] = encodeMulaw(this.sum / this.count);
      this.sum = 0;
      this.count = 0;
      if (this.filled === this.frameBytes) {
        // Transfer the buffer instead of copying it, and start a new one.
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Uint8Array(this.frameBytes);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('mulaw-encoder', MulawEncoder);
