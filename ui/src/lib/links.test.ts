import { describe, expect, it } from 'vitest';

import { originLines, qrFileName, withQrExtension } from './links';

describe('qrFileName', () => {
  it('turns a JID into a safe file name', () => {
    expect(qrFileName('web:demo/flyer')).toBe('chatlink-web-demo-flyer-qr.png');
    expect(qrFileName('hook:acme/crm_sync')).toBe('chatlink-hook-acme-crm-sync-qr.png');
    expect(qrFileName('web:demo')).toBe('chatlink-web-demo-qr.png');
  });

  it('keeps only [a-z0-9-] and collapses runs', () => {
    expect(qrFileName('Web:Demo//Flyer 2025')).toBe('chatlink-web-demo-flyer-2025-qr.png');
    expect(qrFileName('web:ca/\u00e9t\u00e9..\\x?')).toBe('chatlink-web-ca-t-x-qr.png');
    expect(qrFileName(':web:demo/-')).toBe('chatlink-web-demo-qr.png');
  });

  it('has a name even when nothing of the JID is left', () => {
    expect(qrFileName('')).toBe('chatlink-qr.png');
    expect(qrFileName('::/')).toBe('chatlink-qr.png');
  });

  it('never contains anything but [a-z0-9-] before the extension', () => {
    for (const jid of ['web:a/b', 'x:../../etc/passwd', 'a b\tc\nd', 'web:\u0000/\u202e']) {
      expect(qrFileName(jid)).toMatch(/^[a-z0-9-]+\.png$/);
    }
  });
});

describe('withQrExtension', () => {
  it('keeps a .png or .svg name as chosen, in any case', () => {
    expect(withQrExtension('/home/me/flyer.png')).toBe('/home/me/flyer.png');
    expect(withQrExtension('/home/me/flyer.svg')).toBe('/home/me/flyer.svg');
    expect(withQrExtension('/home/me/Flyer.PNG')).toBe('/home/me/Flyer.PNG');
    expect(withQrExtension('C:\\Users\\me\\flyer.Svg')).toBe('C:\\Users\\me\\flyer.Svg');
  });

  it('adds .png to anything else', () => {
    expect(withQrExtension('/home/me/flyer')).toBe('/home/me/flyer.png');
    expect(withQrExtension('/home/me/flyer.jpg')).toBe('/home/me/flyer.jpg.png');
    expect(withQrExtension('/home/me/flyer.png.txt')).toBe('/home/me/flyer.png.txt.png');
    expect(withQrExtension('/home/me/flyerpng')).toBe('/home/me/flyerpng.png');
    expect(withQrExtension('/home/me/flyer.')).toBe('/home/me/flyer.png');
  });

  it('looks at the file name only, not the folders', () => {
    expect(withQrExtension('/home/me/qr.png/flyer')).toBe('/home/me/qr.png/flyer.png');
    expect(withQrExtension('C:\\Users\\me.svg\\flyer')).toBe('C:\\Users\\me.svg\\flyer.png');
  });

  it('treats a bare dot-name as having no extension (".png" is a hidden file)', () => {
    expect(withQrExtension('/home/me/.png')).toBe('/home/me/.png.png');
  });
});

describe('originLines', () => {
  it('splits on lines and commas and drops blanks', () => {
    expect(originLines(' https://a.example \n\nhttps://b.example, https://c.example\n')).toEqual([
      'https://a.example',
      'https://b.example',
      'https://c.example',
    ]);
    expect(originLines('  \n')).toEqual([]);
  });
});
