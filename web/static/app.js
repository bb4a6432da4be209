// The page's entry, a classic script: it adds the page's ES modules (main.js and its imports, no build step) as a
// module script, which the browser loads natively before the page counts as loaded.
const main = document.createElement('script');
main.type = 'module';
main.src = 'main.js';
document.head.append(main);
