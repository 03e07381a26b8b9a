/**
 * How the browser test and the page benchmarks start Debian's chromium (installed by
 * scripts/ensure-chromium.sh), in one place so that the two measure and test the same browser.
 */
export const CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Headless chromium is the whole browser, and from version 156 every new window (each fresh browser
  // context playwright opens is one) builds its address bar's suggestion popup as a web page of its
  // own (chrome://omnibox-popup.top-chrome): about 0.8 s of CPU in a renderer of its own and 0.4 s in
  // the browser process, alongside the page the window was opened for. A reader's browser builds it
  // once per window, not once per page visited; on two cores it made every cold page of the benchmark
  // wait for the CPU (docs/explorer.md, "Thirteenth session").
  "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
];
