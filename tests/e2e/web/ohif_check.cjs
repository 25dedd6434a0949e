// Opens the OHIF viewer served by Garde in headless chromium, signed in by cookie, and
// waits until a viewport canvas has non-black pixels; prints JSON on stdout:
// {"drawn": bool, "text": the page's text, "requests": DICOMweb paths, "ms": time to pixels}.
// Usage: node ohif_check.cjs BASE_URL STUDY_UID TOKEN SCREENSHOT_PATH
const puppeteer = require('puppeteer-core');

(async () => {
  const [base, study, token, shot] = process.argv.slice(2);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--use-gl=swiftshader',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--window-size=1280,900',
    ],
  });
  const requests = [];
  let drawn = false;
  let text = '';
  const began = Date.now();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const url = new URL(base);
    await page.setCookie({ name: 'garde_token', value: token, domain: url.hostname, path: '/' });
    await page.evaluateOnNewDocument(() => {
      localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']));
    });
    page.on('request', (r) => {
      if (r.url().includes('/dicom-web/')) requests.push(r.url().replace(base, ''));
    });
    await page.goto(`${base}/viewer?StudyInstanceUIDs=${study}`, { waitUntil: 'domcontentloaded' });
    const deadline = Date.now() + 90000;
    while (Date.now() < deadline && !drawn) {
      drawn = await page.evaluate(() => {
        for (const canvas of document.querySelectorAll('canvas')) {
          if (canvas.width < 16 || canvas.height < 16) continue;
          const ctx = canvas.getContext('2d');
          if (!ctx) continue;
          const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
          let lit = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] + data[i + 1] + data[i + 2] > 30) lit += 1;
          }
          if (lit > 100) return true;
        }
        return false;
      });
      if (!drawn) await new Promise((r) => setTimeout(r, 250));
    }
    text = await page.evaluate(() => document.body.innerText);
    if (shot) await page.screenshot({ path: shot });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify({ drawn, text, requests, ms: Date.now() - began }));
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
